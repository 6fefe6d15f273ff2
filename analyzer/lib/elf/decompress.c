/* Compressed cores and cores from a pipe (decompress.h).
 *
 * The format is told by the first bytes, never by the name: zstd 28 B5 2F FD,
 * lz4 frame 04 22 4D 18, xz FD 37 7A 58 5A 00, gzip 1F 8B, bzip2 "BZh" and a
 * block size digit.  Each is decoded by its own library (libzstd, liblz4,
 * liblzma, zlib, libbz2) in a loop over one input and one output buffer of
 * fixed size: the memory is those buffers and the decoder's own state
 * (bounded: zstd's window at 2^27 bytes, xz's memory limit), never the core.
 * The output goes into an unlinked temporary file (O_TMPFILE, else mkstemp
 * and unlink) under $TMPDIR, default /tmp, that core.c maps as it maps a
 * core on disk; 4 KiB blocks of zeros are not written (pwrite at the next
 * offset, a final ftruncate), so the file is sparse where the core is zero.
 *
 * A stream that ends early or turns corrupt is decoded up to there: the rest
 * of the pipeline reads a short core as a truncated one, and a warning says
 * where the cut is.  Concatenated streams (zstd and lz4 frames, xz streams,
 * gzip members, bzip2 streams) are read one after the other; bytes after the
 * last one that start no new stream are ignored, with a warning.
 *
 * All state is in struct dec, one per call. */
#include "decompress.h"

#include <bzlib.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4frame.h>
#include <lzma.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "../base/alloc.h"

#define IN_SIZE ((size_t)1 << 20)
#define OUT_SIZE ((size_t)1 << 20)      /* a multiple of HOLE_BLOCK */
#define HOLE_BLOCK ((size_t)4096)
#define ZSTD_WINDOW_LOG_MAX 27          /* 128 MiB, zstd's own default bound */
#define XZ_MEMLIMIT ((uint64_t)256 << 20)

enum fmt { F_PLAIN, F_ZSTD, F_LZ4, F_XZ, F_GZIP, F_BZIP2 };

static const char *fmt_name(enum fmt f)
{
	switch (f) {
	case F_ZSTD: return "zstd";
	case F_LZ4: return "lz4";
	case F_XZ: return "xz";
	case F_GZIP: return "gzip";
	case F_BZIP2: return "bzip2";
	case F_PLAIN: break;
	}
	return NULL;
}

static enum fmt sniff(const uint8_t *p, size_t n)
{
	if (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0)
		return F_ZSTD;
	if (n >= 4 && memcmp(p, "\x04\x22\x4d\x18", 4) == 0)
		return F_LZ4;
	if (n >= 6 && memcmp(p, "\xfd\x37\x7a\x58\x5a\x00", 6) == 0)
		return F_XZ;
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return F_GZIP;
	if (n >= 4 && memcmp(p, "BZh", 3) == 0 && p[3] >= '1' && p[3] <= '9')
		return F_BZIP2;
	return F_PLAIN;
}

/* ---- one decoding --------------------------------------------------- */

enum { ST_OK, ST_END, ST_ERR };

struct dec {
	const char *name;       /* the input, for messages */
	enum fmt fmt;
	/* input */
	int in_fd;
	bool seekable;          /* a regular file: pread from in_total */
	uint8_t *in;
	size_t in_len, in_pos;
	bool eof;
	uint64_t in_total;      /* bytes read from the input */
	/* output */
	int out_fd;
	const char *tmpdir;
	bool tmpdir_set;        /* from $TMPDIR, not the default */
	uint8_t *out;
	size_t out_fill;
	uint64_t out_off;       /* bytes flushed to the file (holes included) */
	uint64_t written;       /* of which written: the rest are holes */
	uint64_t limit;
	/* how it ended */
	bool cut;
	bool trailing;
	uint64_t trailing_at;
	char why[PG_INPUT_WHY];
	/* the decoder */
	union {
		ZSTD_DCtx *zstd;
		LZ4F_dctx *lz4;
		lzma_stream xz;
		z_stream gz;
		bz_stream bz;
	} u;
	bool live;              /* u holds an initialised decoder */
};

/* A stream that someone left non-blocking: wait for it to be readable. */
static bool wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r;
	do
		r = poll(&p, 1, -1);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

static pg_error *more(struct dec *d)
{
	d->in_pos = d->in_len = 0;
	for (;;) {
		ssize_t r = d->seekable ? pread(d->in_fd, d->in, IN_SIZE, (off_t)d->in_total)
					: read(d->in_fd, d->in, IN_SIZE);
		if (r < 0 && (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_readable(d->in_fd))))
			continue;
		if (r < 0)
			return pg_error_create(PG_ERR_INPUT, "%s: cannot read after %" PRIu64 " bytes: %s", d->name,
					       d->in_total, strerror(errno));
		if (r == 0)
			d->eof = true;
		d->in_len = (size_t)r;
		d->in_total += (uint64_t)r;
		return NULL;
	}
}

static const char *tmpdir_why(const struct dec *d)
{
	return d->tmpdir_set ? " ($TMPDIR)" : " (the default; $TMPDIR is not set)";
}

static pg_error *write_at(struct dec *d, const uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pwrite(d->out_fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == ENOSPC || errno == EDQUOT))
			return pg_error_create(PG_ERR_INPUT,
					       "%s: no space left in the temporary directory %s%s after writing %" PRIu64
					       " bytes of the %s core there (zero pages are not written): set TMPDIR to a directory with room for the whole core",
					       d->name, d->tmpdir, tmpdir_why(d), d->written,
					       d->fmt == F_PLAIN ? "piped" : "decoded");
		if (r < 0 && errno == EFBIG)
			return pg_error_create(PG_ERR_INPUT,
					       "%s: the file size limit (ulimit -f) stopped the temporary file in %s%s at %" PRIu64
					       " bytes: raise the limit to decode this core",
					       d->name, d->tmpdir, tmpdir_why(d), off);
		if (r <= 0)
			return pg_error_create(PG_ERR_INPUT, "%s: cannot write the temporary file in %s%s: %s", d->name,
					       d->tmpdir, tmpdir_why(d), r < 0 ? strerror(errno) : "no progress");
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
		d->written += (uint64_t)r;
	}
	return NULL;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* Writes out[0, out_fill) at out_off, whole blocks of zeros left as holes.
 * out_off is a multiple of OUT_SIZE at every flush but the last, so the
 * blocks are the file's own. */
static pg_error *flush(struct dec *d)
{
	size_t n = d->out_fill;
	if (n > d->limit - d->out_off)
		return pg_error_create(PG_ERR_INPUT,
				       "%s: the %s core holds more than %" PRIu64
				       " bytes, the limit (PYCORE_MAX_DECODED, by default 2^40): a decompression bomb, or no core",
				       d->name, d->fmt == F_PLAIN ? "piped" : d->fmt == F_ZSTD ? "zstd-compressed" :
				       d->fmt == F_LZ4 ? "lz4-compressed" : d->fmt == F_XZ ? "xz-compressed" :
				       d->fmt == F_GZIP ? "gzip-compressed" : "bzip2-compressed", d->limit);
	size_t i = 0;
	while (i < n) {
		size_t blk = n - i < HOLE_BLOCK ? n - i : HOLE_BLOCK;
		if (blk == HOLE_BLOCK && all_zero(d->out + i, blk)) {
			i += blk;
			continue;
		}
		size_t start = i;
		while (i < n) {
			blk = n - i < HOLE_BLOCK ? n - i : HOLE_BLOCK;
			if (blk == HOLE_BLOCK && all_zero(d->out + i, blk))
				break;
			i += blk;
		}
		pg_error *err = write_at(d, d->out + start, i - start, d->out_off + start);
		if (err)
			return err;
	}
	d->out_off += n;
	d->out_fill = 0;
	return NULL;
}

static void set_why(struct dec *d, const char *fmt, const char *what)
{
	snprintf(d->why, sizeof(d->why), fmt, what);
}

/* ---- the decoders: one step each ------------------------------------ */

/* Decodes from in[0, n) into out[0, room): *used and *made say how much;
 * ST_END when a stream (frame, member) ended there, fully flushed. */
static int step(struct dec *d, const uint8_t *in, size_t n, uint8_t *out, size_t room, size_t *used,
		size_t *made)
{
	switch (d->fmt) {
	case F_ZSTD: {
		ZSTD_inBuffer ib = { in, n, 0 };
		ZSTD_outBuffer ob = { out, room, 0 };
		size_t r = ZSTD_decompressStream(d->u.zstd, &ob, &ib);
		*used = ib.pos;
		*made = ob.pos;
		if (ZSTD_isError(r)) {
			if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
				set_why(d, "%s", "not decoded: its window needs more than 128 MiB of memory (zstd --long=31?)");
			else
				set_why(d, "corrupt: %s", ZSTD_getErrorName(r));
			return ST_ERR;
		}
		return r == 0 ? ST_END : ST_OK;
	}
	case F_LZ4: {
		size_t isz = n, osz = room;
		size_t r = LZ4F_decompress(d->u.lz4, out, &osz, in, &isz, NULL);
		*used = isz;
		*made = osz;
		if (LZ4F_isError(r)) {
			set_why(d, "corrupt: %s", LZ4F_getErrorName(r));
			return ST_ERR;
		}
		return r == 0 ? ST_END : ST_OK;
	}
	case F_XZ: {
		lzma_stream *z = &d->u.xz;
		z->next_in = in;
		z->avail_in = n;
		z->next_out = out;
		z->avail_out = room;
		lzma_ret r = lzma_code(z, d->eof ? LZMA_FINISH : LZMA_RUN);
		*used = n - z->avail_in;
		*made = room - z->avail_out;
		switch (r) {
		case LZMA_OK:
		case LZMA_BUF_ERROR:   /* no progress: the driver decides */
			return ST_OK;
		case LZMA_STREAM_END:
			return ST_END;
		case LZMA_MEMLIMIT_ERROR:
			set_why(d, "%s", "not decoded: it needs more than 256 MiB of memory");
			return ST_ERR;
		case LZMA_FORMAT_ERROR:
			set_why(d, "%s", "corrupt: not in the .xz format");
			return ST_ERR;
		case LZMA_OPTIONS_ERROR:
			set_why(d, "%s", "options this liblzma does not support");
			return ST_ERR;
		case LZMA_MEM_ERROR:
			set_why(d, "%s", "out of memory");
			return ST_ERR;
		default:
			set_why(d, "%s", "corrupt: the data or its check is wrong");
			return ST_ERR;
		}
	}
	case F_GZIP: {
		z_stream *z = &d->u.gz;
		z->next_in = (Bytef *)(uintptr_t)in;
		z->avail_in = (uInt)n;
		z->next_out = out;
		z->avail_out = (uInt)room;
		int r = inflate(z, Z_NO_FLUSH);
		*used = n - z->avail_in;
		*made = room - z->avail_out;
		if (r == Z_OK || r == Z_BUF_ERROR)
			return ST_OK;
		if (r == Z_STREAM_END)
			return ST_END;
		set_why(d, "corrupt: %s", z->msg ? z->msg : r == Z_MEM_ERROR ? "out of memory" : "zlib error");
		return ST_ERR;
	}
	case F_BZIP2: {
		bz_stream *z = &d->u.bz;
		z->next_in = (char *)(uintptr_t)in;
		z->avail_in = (unsigned)n;
		z->next_out = (char *)out;
		z->avail_out = (unsigned)room;
		int r = BZ2_bzDecompress(z);
		*used = n - z->avail_in;
		*made = room - z->avail_out;
		if (r == BZ_OK)
			return ST_OK;
		if (r == BZ_STREAM_END)
			return ST_END;
		set_why(d, "%s", r == BZ_MEM_ERROR ? "out of memory" : "corrupt: bad bzip2 data");
		return ST_ERR;
	}
	case F_PLAIN:
		break;
	}
	return ST_ERR;
}

/* One .xz stream at a time: concatenated ones are restarted like gzip
 * members, so that what follows the last one is trailing data, not a cut. */
static pg_error *xz_init(struct dec *d)
{
	d->u.xz = (lzma_stream)LZMA_STREAM_INIT;
	lzma_ret r = lzma_stream_decoder(&d->u.xz, XZ_MEMLIMIT, 0);
	if (r != LZMA_OK)
		return r == LZMA_MEM_ERROR ? PG_ENOMEM : pg_error_create(PG_ERR_INTERNAL, "lzma_stream_decoder: %d", (int)r);
	d->live = true;
	return NULL;
}

static pg_error *decoder_init(struct dec *d)
{
	switch (d->fmt) {
	case F_ZSTD:
		d->u.zstd = ZSTD_createDCtx();
		if (!d->u.zstd)
			return PG_ENOMEM;
		d->live = true;
		if (ZSTD_isError(ZSTD_DCtx_setParameter(d->u.zstd, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX)))
			return pg_error_create(PG_ERR_INTERNAL, "ZSTD_DCtx_setParameter(windowLogMax) failed");
		return NULL;
	case F_LZ4:
		if (LZ4F_isError(LZ4F_createDecompressionContext(&d->u.lz4, LZ4F_VERSION)))
			return PG_ENOMEM;
		d->live = true;
		return NULL;
	case F_XZ:
		return xz_init(d);
	case F_GZIP:
		memset(&d->u.gz, 0, sizeof(d->u.gz));
		if (inflateInit2(&d->u.gz, 16 + MAX_WBITS) != Z_OK)
			return PG_ENOMEM;
		d->live = true;
		return NULL;
	case F_BZIP2:
		memset(&d->u.bz, 0, sizeof(d->u.bz));
		if (BZ2_bzDecompressInit(&d->u.bz, 0, 0) != BZ_OK)
			return PG_ENOMEM;
		d->live = true;
		return NULL;
	case F_PLAIN:
		break;
	}
	return NULL;
}

static void decoder_end(struct dec *d)
{
	if (!d->live)
		return;
	d->live = false;
	switch (d->fmt) {
	case F_ZSTD: ZSTD_freeDCtx(d->u.zstd); break;
	case F_LZ4: LZ4F_freeDecompressionContext(d->u.lz4); break;
	case F_XZ: lzma_end(&d->u.xz); break;
	case F_GZIP: inflateEnd(&d->u.gz); break;
	case F_BZIP2: BZ2_bzDecompressEnd(&d->u.bz); break;
	case F_PLAIN: break;
	}
}

/* After a stream ended, more input: does it start another stream of the
 * format?  Then the decoder is ready for it (true); else it is trailing data. */
static bool restart(struct dec *d, const uint8_t *p)
{
	switch (d->fmt) {
	case F_ZSTD:
	case F_LZ4:
		return true;            /* the decoder reads the next frame itself */
	case F_GZIP:
		return p[0] == 0x1f && inflateReset(&d->u.gz) == Z_OK;
	case F_BZIP2:
		if (p[0] != 'B')
			return false;
		BZ2_bzDecompressEnd(&d->u.bz);
		memset(&d->u.bz, 0, sizeof(d->u.bz));
		d->live = BZ2_bzDecompressInit(&d->u.bz, 0, 0) == BZ_OK;
		return d->live;
	case F_XZ:
		if (p[0] != 0xfd)
			return false;   /* stream padding (zeros) or other data */
		lzma_end(&d->u.xz);
		d->live = false;
		{
			pg_error *e = xz_init(d);
			pg_error_destroy(e);
			return !e;
		}
	case F_PLAIN:
		break;
	}
	return false;
}

/* Feeds the whole input through the decoder. */
static pg_error *decode(struct dec *d)
{
	pg_error *err = decoder_init(d);
	if (err)
		return err;
	bool ended = false;     /* a stream ended, and no byte of another one was decoded since */
	bool fresh = false;     /* a new stream was started after one ended, nothing came out yet */
	uint64_t fresh_at = 0;
	for (;;) {
		if (d->in_pos == d->in_len && !d->eof) {
			if ((err = more(d)))
				return err;
			continue;
		}
		if (ended && d->fmt == F_XZ) {
			/* stream padding: null bytes between and after .xz streams */
			while (d->in_pos < d->in_len && d->in[d->in_pos] == 0)
				d->in_pos++;
			if (d->in_pos == d->in_len && !d->eof)
				continue;
		}
		size_t avail = d->in_len - d->in_pos;
		uint64_t at = d->in_total - avail;      /* input offset of in[in_pos] */
		if (ended) {
			if (!avail)
				break;                  /* the input ends with a complete stream */
			if (!restart(d, d->in + d->in_pos)) {
				d->trailing = true;
				d->trailing_at = at;
				break;
			}
			ended = false;
			fresh = true;
			fresh_at = at;
		}
		size_t used = 0, made = 0, room = OUT_SIZE - d->out_fill;
		int st = step(d, d->in + d->in_pos, avail, d->out + d->out_fill, room, &used, &made);
		d->in_pos += used;
		d->out_fill += made;
		if (made)
			fresh = false;
		if (st == ST_ERR) {
			if (fresh) {
				/* what follows a complete stream is not another one */
				d->trailing = true;
				d->trailing_at = fresh_at;
				ended = true;
			}
			break;
		}
		if (st == ST_END)
			ended = true;
		if (d->out_fill == OUT_SIZE) {
			if ((err = flush(d)))
				return err;
		} else if (d->in_pos == d->in_len && d->eof) {
			break;                          /* all input given, and the output had room */
		} else if (!used && !made && st != ST_END) {
			set_why(d, "%s", "corrupt: the decoder makes no progress");
			break;
		}
	}
	if (!ended) {
		d->cut = true;
		if (!d->why[0])
			set_why(d, "%s", "the stream ends there");
	}
	return flush(d);
}

/* A pipe's bytes, as they are. */
static pg_error *copy(struct dec *d)
{
	for (;;) {
		if (d->in_pos == d->in_len) {
			if (d->eof)
				break;
			pg_error *err = more(d);
			if (err)
				return err;
			continue;
		}
		size_t n = d->in_len - d->in_pos, room = OUT_SIZE - d->out_fill;
		if (n > room)
			n = room;
		memcpy(d->out + d->out_fill, d->in + d->in_pos, n);
		d->in_pos += n;
		d->out_fill += n;
		if (d->out_fill == OUT_SIZE) {
			pg_error *err = flush(d);
			if (err)
				return err;
		}
	}
	return flush(d);
}

static pg_error *make_temp(struct dec *d)
{
	const char *env = getenv("TMPDIR");
	d->tmpdir_set = env && env[0];
	d->tmpdir = d->tmpdir_set ? env : "/tmp";
	d->out_fd = open(d->tmpdir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (d->out_fd >= 0)
		return NULL;
	int e = errno;
	if (e == EOPNOTSUPP || e == EISDIR || e == EINVAL) {
		/* no O_TMPFILE here: a name, unlinked at once */
		char *t = pg_asprintf("%s/pycore-garbage-XXXXXX", d->tmpdir);
		if (!t)
			return PG_ENOMEM;
		d->out_fd = mkostemp(t, O_CLOEXEC);
		e = errno;
		if (d->out_fd >= 0)
			unlink(t);
		free(t);
		if (d->out_fd >= 0)
			return NULL;
	}
	return pg_error_create(PG_ERR_INPUT, "%s: cannot make a temporary file for the %s core in %s%s: %s", d->name,
			       d->fmt == F_PLAIN ? "piped" : "decoded", d->tmpdir, tmpdir_why(d), strerror(e));
}

static pg_error *decoded_limit(uint64_t *limit)
{
	*limit = PG_DECODED_MAX;
	const char *s = getenv("PYCORE_MAX_DECODED");
	if (!s || !*s)
		return NULL;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0)
		return pg_error_create(PG_ERR_USAGE, "PYCORE_MAX_DECODED=%s: not a positive number of bytes", s);
	*limit = v;
	return NULL;
}

pg_error *pg_input_open(int fd, const char *name, const struct pg_log *log, struct pg_warnings *w,
			struct pg_input *ret)
{
	*ret = (struct pg_input){ .fd = -1 };
	struct stat st;
	if (fstat(fd, &st) != 0) {
		pg_error *err = pg_error_create(PG_ERR_INPUT, "%s: cannot stat: %s", name, strerror(errno));
		close(fd);
		return err;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return pg_error_create(PG_ERR_INPUT, "%s: not a regular file", name);
	}
	struct dec d = { .name = name, .in_fd = fd, .seekable = S_ISREG(st.st_mode), .out_fd = -1 };
	if (d.seekable) {
		uint8_t head[6];
		ssize_t n;
		do
			n = pread(fd, head, sizeof(head), 0);
		while (n < 0 && errno == EINTR);
		if (n < 0) {
			pg_error *err = pg_error_create(PG_ERR_INPUT, "%s: cannot read: %s", name, strerror(errno));
			close(fd);
			return err;
		}
		d.fmt = sniff(head, (size_t)n);
		if (d.fmt == F_PLAIN) {
			/* a core on disk: mapped as it is */
			ret->fd = fd;
			ret->in_bytes = ret->out_bytes = (uint64_t)st.st_size;
			return NULL;
		}
	}
	pg_error *err = decoded_limit(&d.limit);
	if (err)
		goto out;
	d.in = malloc(IN_SIZE);
	d.out = malloc(OUT_SIZE);
	if (!d.in || !d.out) {
		err = PG_ENOMEM;
		goto out;
	}
	if (!d.seekable) {
		/* the magic of a stream: read until 6 bytes or its end */
		while (d.in_len < 6 && !d.eof) {
			ssize_t r = read(fd, d.in + d.in_len, IN_SIZE - d.in_len);
			if (r < 0 && (errno == EINTR || ((errno == EAGAIN || errno == EWOULDBLOCK) && wait_readable(fd))))
				continue;
			if (r < 0) {
				err = pg_error_create(PG_ERR_INPUT, "%s: cannot read: %s", name, strerror(errno));
				goto out;
			}
			d.eof = r == 0;
			d.in_len += (size_t)r;
			d.in_total += (uint64_t)r;
		}
		d.fmt = sniff(d.in, d.in_len);
		if (d.fmt == F_PLAIN && d.in_len >= 4 && memcmp(d.in, "\x7f" "ELF", 4) != 0) {
			err = pg_error_create(PG_ERR_INPUT,
					      "%s: not an ELF file (nor a zstd, lz4, xz, gzip or bzip2-compressed one), so not a core dump",
					      name);
			goto out;
		}
	}
	if ((err = make_temp(&d)))
		goto out;
	err = d.fmt == F_PLAIN ? copy(&d) : decode(&d);
	if (!err && ftruncate(d.out_fd, (off_t)d.out_off) != 0)
		err = pg_error_create(PG_ERR_INPUT, "%s: cannot size the temporary file in %s%s to %" PRIu64 " bytes: %s",
				      name, d.tmpdir, tmpdir_why(&d), d.out_off, strerror(errno));
	if (err)
		goto out;
	const char *fname = fmt_name(d.fmt);
	uint64_t consumed = d.in_total - (d.in_len - d.in_pos);
	pg_logf(log, "%s: %s: %" PRIu64 " bytes into a temporary file in %s (%" PRIu64 " written, the rest zero pages left as holes)",
		name, fname ? fname : "read from a pipe", d.out_off, d.tmpdir, d.written);
	if (d.cut)
		pg_warn_partial(w, "the %s-compressed core was cut after %" PRIu64 " compressed bytes (%s): the %" PRIu64
				" bytes decoded before the cut are analysed, the rest of the core is missing",
				fname, consumed, d.why, d.out_off);
	if (d.trailing)
		pg_warn(w, "the %s-compressed core is followed by other data (from byte %" PRIu64 "): ignored",
			fname, d.trailing_at);
	*ret = (struct pg_input){ .fd = d.out_fd, .compression = fname, .temporary = true, .cut = d.cut,
				  .in_bytes = consumed, .out_bytes = d.out_off };
	if (d.cut)
		memcpy(ret->why, d.why, sizeof(ret->why));
	d.out_fd = -1;
out:
	decoder_end(&d);
	free(d.in);
	free(d.out);
	if (d.out_fd >= 0)
		close(d.out_fd);
	close(fd);
	return err;
}
