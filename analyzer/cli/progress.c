#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "progress.h"

bool pg_progress_wanted(const char *core)
{
	if (!isatty(STDERR_FILENO))
		return false;
	struct stat st;
	bool in = strcmp(core, "-") == 0;
	if ((in ? fstat(STDIN_FILENO, &st) : stat(core, &st)) != 0)
		return false;
	/* a pipe's size is not known: decoding it can take long */
	if (!S_ISREG(st.st_mode))
		return in;
	return (unsigned long long)st.st_size >= PG_PROGRESS_MIN;
}

void pg_progress_init(struct pg_progress *p, FILE *out)
{
	*p = (struct pg_progress){ .out = out, .percent = -1 };
}

void pg_progress_cb(void *arg, const char *stage, int percent)
{
	struct pg_progress *p = arg;
	if (percent < 0)
		percent = 0;
	if (percent > 100)
		percent = 100;
	if (percent == p->percent && p->stage && strcmp(stage, p->stage) == 0)
		return;
	p->stage = stage;
	p->percent = percent;
	fprintf(p->out, "\rpycore-garbage: %s %3d%%\033[K", stage, percent);
	fflush(p->out);
	p->shown = true;
}

void pg_progress_done(struct pg_progress *p)
{
	if (p->shown) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
	}
	p->shown = false;
}
