/* The main of a fuzz target where libFuzzer is not linked (gcc builds):
 * it runs the target on every file of the corpus directories given, then
 * on -runs=N inputs made from them by a fixed pseudo-random sequence of
 * mutations (-seed=S), so every build runs each target, deterministically.
 * It takes libFuzzer's command line (other -flags are ignored), so CTest
 * runs both kinds of build the same way. A failure is whatever the target
 * does on a bad input: a failed check aborts, a sanitizer reports. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LEN 4096
#define MAX_SEEDS 4096

struct input {
    uint8_t *data;
    size_t len;
};

static uint64_t rng_state = 1;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static int load(const char *path, struct input *in)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    in->data = malloc(MAX_LEN);
    in->len = in->data ? fread(in->data, 1, MAX_LEN, f) : 0;
    fclose(f);
    return in->data ? 0 : -1;
}

static size_t load_dir(const char *dir, struct input *seeds, size_t n)
{
    /* Sorted, so that the mutations do not depend on the directory's order. */
    struct dirent **names;
    int k = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        char path[4096];
        if (names[i]->d_name[0] != '.' && n < MAX_SEEDS &&
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name) < (int)sizeof path &&
            load(path, &seeds[n]) == 0)
            n++;
        free(names[i]);
    }
    free(names);
    return n;
}

/* One of a few mutations of buf (len bytes, room for MAX_LEN). */
static size_t mutate(uint8_t *buf, size_t len, const struct input *other)
{
    switch (rng() % 6) {
    case 0: /* flip a bit */
        if (len)
            buf[below(len)] ^= (uint8_t)(1u << (rng() % 8));
        break;
    case 1: /* set a byte to anything, or to an interesting value */
        if (len) {
            static const uint8_t odd[] = {0, 1, 0x7f, 0x80, 0xff, '\n', '\r', '-', ':', ' '};
            buf[below(len)] = rng() % 2 ? (uint8_t)rng() : odd[below(sizeof odd)];
        }
        break;
    case 2: /* insert a byte */
        if (len < MAX_LEN) {
            size_t at = below(len + 1);
            memmove(buf + at + 1, buf + at, len - at);
            buf[at] = (uint8_t)rng();
            len++;
        }
        break;
    case 3: /* delete a run */
        if (len) {
            size_t at = below(len), n = 1 + below(len - at < 16 ? len - at : 16);
            memmove(buf + at, buf + at + n, len - at - n);
            len -= n;
        }
        break;
    case 4: /* splice in part of another input */
        if (other->len) {
            size_t from = below(other->len), n = 1 + below(other->len - from);
            size_t at = below(len + 1);
            if (n > MAX_LEN - len)
                n = MAX_LEN - len;
            memmove(buf + at + n, buf + at, len - at);
            memcpy(buf + at, other->data + from, n);
            len += n;
        }
        break;
    default: /* truncate */
        len = below(len + 1);
        break;
    }
    return len;
}

int main(int argc, char **argv)
{
    long runs = 1000;
    static struct input seeds[MAX_SEEDS];
    size_t nseeds = 0;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "-runs=", 6) == 0)
            runs = atol(argv[i] + 6);
        else if (strncmp(argv[i], "-seed=", 6) == 0)
            rng_state = strtoull(argv[i] + 6, NULL, 10) | 1;
        else if (argv[i][0] != '-')
            nseeds = load_dir(argv[i], seeds, nseeds);
    }
    for (size_t i = 0; i < nseeds; i++)
        LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].len);
    static uint8_t buf[MAX_LEN];
    static const struct input empty = {NULL, 0};
    for (long r = 0; r < runs; r++) {
        size_t len;
        if (nseeds) {
            const struct input *base = &seeds[below(nseeds)];
            memcpy(buf, base->data, base->len);
            len = base->len;
        } else {
            len = below(64);
            for (size_t j = 0; j < len; j++)
                buf[j] = (uint8_t)rng();
        }
        for (size_t m = 1 + below(4); m > 0; m--)
            len = mutate(buf, len, nseeds ? &seeds[below(nseeds)] : &empty);
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("%zu seeds, %ld mutated inputs: no failure\n", nseeds, runs);
    for (size_t i = 0; i < nseeds; i++)
        free(seeds[i].data);
    return 0;
}
