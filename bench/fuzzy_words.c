/*
 * fuzzy_words.c -- the C tree's fuzzy search alone: 200 one-typo queries
 * (seeded) at distance 1 and 2 over the words of a list, CPU time per
 * query, best of R runs.  For A/B runs of two cores (docs/buckets.md):
 *
 *   cc -O2 -std=c11 -Icore core/art*.c bench/fuzzy_words.c -o /tmp/fz
 *   /tmp/fz /usr/share/dict/american-english-huge 5
 */
#define _DEFAULT_SOURCE /* NOLINT(bugprone-reserved-identifier): strdup */
#include "art.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t run(art_tree *t, char **q, int nq, uint32_t d)
{
    size_t hits = 0;
    for (int i = 0; i < nq; i++) {
        art_fuzzy f;
        if (art_fuzzy_init(&f, t, (const uint8_t *)q[i], strlen(q[i]), d,
                           ART_FUZZY_UTF8) != ART_OK)
            exit(1);
        f.slice = 0;
        while (art_fuzzy_next(&f) > 0)
            hits++;
        art_fuzzy_free(&f);
    }
    return hits;
}

int main(int argc, char **argv)
{
    const char *path =
        argc > 1 ? argv[1] : "/usr/share/dict/american-english-huge";
    int reps = argc > 2 ? atoi(argv[2]) : 3;
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return 1;
    art_tree t;
    art_tree_init(&t);
    static char line[512];
    size_t n = 0, cap = 1024;
    char **w = malloc(cap * sizeof *w);
    while (w && fgets(line, sizeof line, fp)) {
        size_t l = strlen(line);
        if (l && line[l - 1] == '\n')
            line[--l] = 0;
        if (n == cap && (w = realloc(w, (cap *= 2) * sizeof *w)) == NULL)
            return 1;
        w[n] = strdup(line);
        art_insert(&t, (uint8_t *)w[n], l, w[n], NULL);
        n++;
    }
    fclose(fp);
    if (w == NULL || n == 0)
        return 1;
    char *q[200];
    srand(7);
    for (int i = 0; i < 200; i++) {
        char *s = strdup(w[(size_t)rand() % n]);
        size_t l = strlen(s);
        if (l > 2)
            s[(size_t)rand() % l] = (char)('a' + rand() % 26);
        q[i] = s;
    }
    for (uint32_t d = 1; d <= 2; d++) {
        double best = 1e9;
        size_t h = 0;
        for (int r = 0; r < reps; r++) {
            clock_t a = clock();
            h = run(&t, q, 200, d);
            double s = (double)(clock() - a) / CLOCKS_PER_SEC;
            if (s < best)
                best = s;
        }
        printf("d=%u: %zu hits, %.3f ms/query\n", d, h, best * 1000 / 200);
    }
    art_tree_clear(&t, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        free(w[i]);
    for (int i = 0; i < 200; i++)
        free(q[i]);
    free(w);
    return 0;
}
