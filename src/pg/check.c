/* Arguments checked before anything is sent, each refusal explained in
 * cio_pg_conn_error() as asyncpg explains it in its exception: values too
 * long for the protocol, arrays that cannot be encoded, more parameters
 * than the protocol carries, and more arguments than the statement has
 * placeholders.
 *
 * That last check cannot be left to the server: cio prepares a statement
 * with every argument's type (so that binary values are read as what they
 * are), and PostgreSQL accepts a typed parameter the statement never uses,
 * so the statement's description counts the arguments passed, not the
 * placeholders written. The placeholders are counted in the SQL text
 * instead, skipping what the server's lexer skips (strings, quoted
 * identifiers, comments, dollar quotes). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pg/internal.h"

#define MAX_PARAMS 65535 /* the protocol's count of parameters is an int16 */

int cio__pg_invalid(cio_pg_conn *c, int row, const char *fmt, ...)
{
    /* Recorded only where it cannot overwrite the account of another
     * task's operation on c. */
    if (c && (c->user ? c->user == cio__self() : !c->streaming)) {
        char msg[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        cio__pg_clear_error(c);
        cio__pg_set_error(c, NULL, "ERROR", msg, NULL, NULL);
        c->err.row = row;
    }
    return -EINVAL;
}

static bool ident_char(unsigned char ch)
{
    return isalnum(ch) || ch == '_' || ch == '$' || ch >= 0x80;
}

/* The end of the string literal whose opening quote is at p, or NULL if it
 * does not end. */
static const unsigned char *string_end(const unsigned char *p, bool backslashes)
{
    for (p++;; p++) {
        if (!*p)
            return NULL;
        if (*p == '\\' && backslashes) {
            if (!*++p)
                return NULL;
        } else if (*p == '\'') {
            if (p[1] != '\'')
                return p + 1;
            p++;
        }
    }
}

/* The end of the dollar-quoted string whose opening tag is at p and ends
 * at tag_end ('$'), or NULL if it does not end. */
static const unsigned char *dollar_end(const unsigned char *p, const unsigned char *tag_end)
{
    size_t n = (size_t)(tag_end - p) + 1;
    for (const unsigned char *q = tag_end + 1; *q; q++)
        if (*q == '$' && strncmp((const char *)q, (const char *)p, n) == 0)
            return q + n;
    return NULL;
}

int cio__pg_sql_params(const char *sql, bool standard_strings)
{
    const unsigned char *start = (const unsigned char *)sql, *p = start;
    long max = 0;
    while (*p) {
        unsigned char ch = *p;
        if (ch == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
        } else if (ch == '/' && p[1] == '*') { /* comments nest */
            int depth = 1;
            for (p += 2; depth; p++) {
                if (!*p)
                    return -1;
                if (p[0] == '/' && p[1] == '*')
                    depth++, p++;
                else if (p[0] == '*' && p[1] == '/')
                    depth--, p++;
            }
        } else if (ch == '\'') {
            /* E'...' (an E standing alone before the quote) takes
             * backslash escapes; so does every string when
             * standard_conforming_strings is off. */
            bool e = p > start && (p[-1] == 'E' || p[-1] == 'e') &&
                     (p - 1 == start || !ident_char(p[-2]));
            if (!(p = string_end(p, e || !standard_strings)))
                return -1;
        } else if (ch == '"') {
            for (p++; *p != '"' || p[1] == '"'; p += *p == '"' ? 2 : 1)
                if (!*p)
                    return -1;
            p++;
        } else if (ch == '$' && isdigit(p[1])) {
            long n = 0;
            for (p++; isdigit(*p); p++)
                n = n < 1000000 ? n * 10 + (*p - '0') : n;
            if (n > max)
                max = n;
        } else if (ch == '$') {
            /* $tag$...$tag$, the tag empty or an identifier without '$' */
            const unsigned char *t = p + 1;
            while (*t != '$' && ident_char(*t))
                t++;
            if (*t == '$') {
                if (!(p = dollar_end(p, t)))
                    return -1;
            } else {
                p++;
            }
        } else if (ident_char(ch)) { /* a '$' inside one is not a placeholder */
            while (ident_char(*p))
                p++;
        } else {
            p++;
        }
    }
    return (int)max;
}

int cio__pg_check_args(cio_pg_conn *c, const char *sql, const cio_pg_arg *args, int nargs,
                       int nrows)
{
    if (sql && nargs > MAX_PARAMS)
        return cio__pg_invalid(c, -1,
                               "%d arguments were passed: a statement takes at most %d parameters",
                               nargs, MAX_PARAMS);
    for (int i = 0; i < nrows; i++)
        for (int k = 0; k < nargs; k++) {
            const char *why = cio__pg_arg_problem(&args[(size_t)i * (size_t)nargs + (size_t)k]);
            if (why && nrows > 1)
                return cio__pg_invalid(c, i, "row %d, argument $%d: %s", i, k + 1, why);
            if (why)
                return cio__pg_invalid(c, -1, "argument $%d: %s", k + 1, why);
        }
    if (sql && nargs > 0 && c && c->pg) {
        const char *scs = PQparameterStatus(c->pg, "standard_conforming_strings");
        int used = cio__pg_sql_params(sql, !scs || strcmp(scs, "off") != 0);
        if (used >= 0 && nargs > used)
            return cio__pg_invalid(c, -1,
                                   "the statement has %d parameter%s, %d arguments were passed",
                                   used, used == 1 ? "" : "s", nargs);
    }
    return 0;
}
