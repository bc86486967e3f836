/* strmap - see strmap.h. */
#include "td_str.h"
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *key;       /* NULL: empty slot */
    void *value;
    uint32_t hash;
} s_slot_t;

struct strmap {
    s_slot_t *slots;
    size_t mask;           /* capacity - 1; capacity is a power of two */
    size_t count;
};

uint32_t strmap_hash(const char *s)
{
    return (uint32_t)td_str_hash(s);
}

strmap_t *strmap_new(size_t size_hint)
{
    size_t cap = 16;
    while (cap < size_hint * 2)
        cap *= 2;
    strmap_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc(cap, sizeof *self->slots);
    if (!self->slots) {
        free(self);
        return NULL;
    }
    self->mask = cap - 1;
    return self;
}

void strmap_destroy(strmap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->slots);
    free(*self_p);
    *self_p = NULL;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t s_find(const strmap_t *self, const char *key, uint32_t hash)
{
    size_t i = hash & self->mask;
    while (self->slots[i].key) {
        if (self->slots[i].hash == hash && strcmp(self->slots[i].key, key) == 0)
            return i;
        i = (i + 1) & self->mask;
    }
    return i;
}

static int s_grow(strmap_t *self)
{
    size_t cap = (self->mask + 1) * 2;
    s_slot_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i <= self->mask; i++) {
        if (!self->slots[i].key)
            continue;
        size_t j = self->slots[i].hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = self->slots[i];
    }
    free(self->slots);
    self->slots = slots;
    self->mask = cap - 1;
    return 0;
}

void *strmap_get(const strmap_t *self, const char *key)
{
    size_t i = s_find(self, key, strmap_hash(key));
    return self->slots[i].key ? self->slots[i].value : NULL;
}

int strmap_put(strmap_t *self, const char *key, void *value)
{
    if ((self->count + 1) * 2 > self->mask + 1 && s_grow(self) < 0)
        return -1;
    uint32_t hash = strmap_hash(key);
    size_t i = s_find(self, key, hash);
    if (!self->slots[i].key) {
        self->slots[i].key = key;
        self->slots[i].hash = hash;
        self->count++;
    }
    self->slots[i].value = value;
    return 0;
}

void *strmap_remove(strmap_t *self, const char *key)
{
    size_t i = s_find(self, key, strmap_hash(key));
    if (!self->slots[i].key)
        return NULL;
    void *value = self->slots[i].value;
    /* Backward-shift deletion: move later entries of the same probe run
     * into the hole when their home slot does not lie between hole and them. */
    size_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & self->mask;
        if (!self->slots[j].key)
            break;
        size_t home = self->slots[j].hash & self->mask;
        int between = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!between) {
            self->slots[hole] = self->slots[j];
            hole = j;
        }
    }
    self->slots[hole].key = NULL;
    self->slots[hole].value = NULL;
    self->count--;
    return value;
}

size_t strmap_size(const strmap_t *self)
{
    return self->count;
}

void strmap_foreach(const strmap_t *self, void (*fn)(void *arg, const char *key, void *value),
                    void *arg)
{
    for (size_t i = 0; i <= self->mask; i++)
        if (self->slots[i].key)
            fn(arg, self->slots[i].key, self->slots[i].value);
}
