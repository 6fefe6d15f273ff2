/* libpycore's one error type (public part). */
#ifndef PYCORE_ERROR_H
#define PYCORE_ERROR_H

#include <stdbool.h>
#include <stdint.h>

enum pg_error_kind {
	PG_ERR_NOMEM = 1,  /* out of memory */
	PG_ERR_INPUT,      /* the input cannot be analysed */
	PG_ERR_FAULT,      /* a read of core memory failed; addr says where */
	PG_ERR_NOT_FOUND,  /* a symbol, type, field or object is not there */
	PG_ERR_USAGE,      /* a bad request (options that do not go together) */
	PG_ERR_IO,         /* reading or writing a file failed */
	PG_ERR_LIMIT,      /* a resource bound was reached */
	PG_ERR_INTERNAL,
};

typedef struct pg_error {
	enum pg_error_kind kind;
	bool is_static;    /* a sentinel: never freed, never changed */
	uint64_t addr;     /* for PG_ERR_FAULT */
	char *message;
} pg_error;

/* Frees err (NULL and static sentinels are fine). */
void pg_error_destroy(pg_error *err);

#endif
