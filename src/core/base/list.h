/* list.h - intrusive circular doubly-linked lists: the owner embeds a
 * tv_link_t, a list is a sentinel link, an unlinked node links to itself (so
 * "is it queued?" needs no flag and unlinking twice is harmless). */
#ifndef TV_LIST_H
#define TV_LIST_H

#include <stddef.h>

#define tv_container_of(p, type, field) ((type *)((char *)(p)-offsetof(type, field)))

typedef struct tv_link {
  struct tv_link *next, *prev;
} tv_link_t;

static inline void tv_list_init(tv_link_t *l) { l->next = l->prev = l; }
static inline int tv_list_empty(const tv_link_t *head) { return head->next == head; }
static inline int tv_linked(const tv_link_t *n) { return n->next != n; }

/* Appends n (unlinked) at the tail. */
static inline void tv_list_push(tv_link_t *head, tv_link_t *n) {
  n->prev = head->prev;
  n->next = head;
  head->prev->next = n;
  head->prev = n;
}

static inline void tv_list_unlink(tv_link_t *n) {
  n->prev->next = n->next;
  n->next->prev = n->prev;
  n->next = n->prev = n;
}

/* Moves every node of `from` to `to`, which must be empty. */
static inline void tv_list_splice(tv_link_t *from, tv_link_t *to) {
  if (tv_list_empty(from)) return;
  to->next = from->next;
  to->prev = from->prev;
  to->next->prev = to;
  to->prev->next = to;
  tv_list_init(from);
}

#define tv_list_each(it, head) for (tv_link_t *it = (head)->next; it != (head); it = it->next)

#endif
