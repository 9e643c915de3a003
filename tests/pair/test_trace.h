/* Test helpers for the cores' caller-side hooks: a sink that records trace records (so a test
 * can assert a core reported an event, with its fields) and a deterministic random source
 * (so a run can be repeated byte for byte). Header-only; include after cmocka.h. */
#ifndef LP2P_TEST_TRACE_H
#define LP2P_TEST_TRACE_H

#include <stdio.h>
#include <string.h>

#include "util/rng.h"
#include "util/trace.h"

#define TREC_MAX    64
#define TREC_FIELDS 8

typedef struct trec {
    lp2p_log_level level;
    char event[64];
    size_t n;
    struct {
        char key[32];
        char type;
        char s[256];
        uint64_t u;
    } f[TREC_FIELDS];
} trec;

typedef struct trec_log {
    trec r[TREC_MAX];
    size_t n;
} trec_log;

static inline void trec_sink(void *user, lp2p_log_level level, const char *event,
                             const lp2p_field *f, size_t n)
{
    trec_log *t = user;
    if (t->n == TREC_MAX)
        return;
    trec *r = &t->r[t->n++];
    memset(r, 0, sizeof(*r));
    r->level = level;
    snprintf(r->event, sizeof r->event, "%s", event);
    for (size_t i = 0; i < n && i < TREC_FIELDS; i++) {
        snprintf(r->f[i].key, sizeof r->f[i].key, "%s", f[i].key);
        r->f[i].type = f[i].type;
        if (f[i].type == 's' || f[i].type == 'j')
            snprintf(r->f[i].s, sizeof r->f[i].s, "%s", f[i].v.s ? f[i].v.s : "");
        else if (f[i].type == 'b')
            r->f[i].u = (uint64_t)f[i].v.b;
        else
            r->f[i].u = f[i].v.u; /* 'i' shares the bits */
    }
    r->n = n < TREC_FIELDS ? n : TREC_FIELDS;
}

static inline lp2p_trace trec_trace(trec_log *t)
{
    memset(t, 0, sizeof(*t));
    return (lp2p_trace){.fn = trec_sink, .user = t};
}

/* The first record named event, or NULL. */
static inline const trec *trec_find(const trec_log *t, const char *event)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->r[i].event, event) == 0)
            return &t->r[i];
    return NULL;
}

/* A string field of r (fails the test when missing). */
static inline const char *trec_str(const trec *r, const char *key)
{
    assert_non_null(r);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].key, key) == 0 && r->f[i].type == 's')
            return r->f[i].s;
    fail_msg("record %s has no string field %s", r->event, key);
    return NULL;
}

/* An integer (or bool) field of r (fails the test when missing). */
static inline uint64_t trec_u(const trec *r, const char *key)
{
    assert_non_null(r);
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].key, key) == 0 && r->f[i].type != 's')
            return r->f[i].u;
    fail_msg("record %s has no numeric field %s", r->event, key);
    return 0;
}

/* Deterministic bytes: a 64-bit xorshift stream from *seed (not for anything but tests). */
static inline int test_rng_fill(void *user, void *buf, size_t n)
{
    uint64_t *x = user;
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        p[i] = (uint8_t)(*x >> 24);
    }
    return 0;
}

static inline lp2p_rng test_rng(uint64_t *seed)
{
    return (lp2p_rng){.fn = test_rng_fill, .user = seed};
}

#endif
