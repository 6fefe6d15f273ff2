#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"

const pg_error pg_enomem = {
	.kind = PG_ERR_NOMEM, .is_static = true, .message = (char *)"out of memory",
};

static pg_error *vcreate(enum pg_error_kind kind, uint64_t addr, const char *fmt, va_list ap)
{
	pg_error *e = malloc(sizeof(*e));
	if (!e)
		return PG_ENOMEM;
	if (vasprintf(&e->message, fmt, ap) < 0) {
		free(e);
		return PG_ENOMEM;
	}
	e->kind = kind;
	e->is_static = false;
	e->addr = addr;
	return e;
}

pg_error *pg_error_create(enum pg_error_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pg_error *e = vcreate(kind, 0, fmt, ap);
	va_end(ap);
	return e;
}

pg_error *pg_error_fault(uint64_t addr, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pg_error *e = vcreate(PG_ERR_FAULT, addr, fmt, ap);
	va_end(ap);
	return e;
}

pg_error *pg_error_prefix(pg_error *err, const char *fmt, ...)
{
	if (!err || err->is_static)
		return err;
	char *prefix = NULL, *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&prefix, fmt, ap);
	va_end(ap);
	if (r < 0)
		return err;
	if (asprintf(&msg, "%s: %s", prefix, err->message) >= 0) {
		free(err->message);
		err->message = msg;
	}
	free(prefix);
	return err;
}

pg_error *pg_error_catch(pg_error *err, enum pg_error_kind kind)
{
	if (err && err->kind == kind) {
		pg_error_destroy(err);
		return NULL;
	}
	return err;
}

void pg_error_destroy(pg_error *err)
{
	if (!err || err->is_static)
		return;
	free(err->message);
	free(err);
}

void pg_logf(const struct pg_log *log, const char *fmt, ...)
{
	if (!pg_log_on(log))
		return;
	char *line = NULL;
	va_list ap;
	va_start(ap, fmt);
	int r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r >= 0) {
		log->fn(log->arg, line);
		free(line);
	}
}

void pg_warnings_init(struct pg_warnings *w, const struct pg_log *log)
{
	memset(w, 0, sizeof(*w));
	w->log = log;
	pthread_mutex_init(&w->lock, NULL);
}

static void vwarn(struct pg_warnings *w, bool partial, const char *fmt, va_list ap)
{
	char *m = NULL;
	int r = vasprintf(&m, fmt, ap);
	pthread_mutex_lock(&w->lock);
	if (partial)
		w->partial = true;
	bool added = false;
	if (r < 0 || w->n >= PG_WARNINGS_MAX) {
		w->dropped++;
	} else {
		bool dup = false;
		for (size_t i = 0; i < w->n && !dup; i++)
			dup = strcmp(w->msgs[i], m) == 0;
		if (dup) {
			/* said once */
		} else if (pg_grow((void **)&w->msgs, &w->cap, w->n + 1, sizeof(char *))) {
			w->dropped++;
		} else {
			w->msgs[w->n++] = m;
			m = NULL;
			added = true;
		}
	}
	if (added)
		pg_logf(w->log, "warning: %s", w->msgs[w->n - 1]);
	pthread_mutex_unlock(&w->lock);
	free(r < 0 ? NULL : m);
}

void pg_warn(struct pg_warnings *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(w, false, fmt, ap);
	va_end(ap);
}

void pg_warn_partial(struct pg_warnings *w, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vwarn(w, true, fmt, ap);
	va_end(ap);
}

void pg_warnings_free(struct pg_warnings *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->msgs[i]);
	free(w->msgs);
	w->msgs = NULL;
	w->n = w->cap = 0;
	pthread_mutex_destroy(&w->lock);
}
