#ifndef PG_CLI_H
#define PG_CLI_H

/* Runs pycore-garbage with these arguments; returns the exit status
 * (0 analysed, 1 internal error, 2 usage, 3 cannot analyse). */
int pg_main(int argc, char **argv);

#endif
