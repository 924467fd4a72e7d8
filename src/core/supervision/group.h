/* group.h - a supervision group: a task whose attempt runs a list of child
 * tasks under one strategy (OTP's one_for_one, one_for_all, rest_for_one) and
 * one restart budget. Children start in order (each after the previous is
 * ready) and stop in reverse order; a group whose budget escalates stops its
 * children and fails its attempt, so its own policy and its parent decide.
 * Groups nest: a child may be a group.
 * Owner: the embedding owns the memory (like any task); tv_group_fini frees
 * what the group allocated. Children are made afresh for each attempt by
 * ops->make and held by the supervisor like any task. */
#ifndef TV_GROUP_H
#define TV_GROUP_H

#include "core/supervision/supervisor.h"
#include "core/supervision/task.h"

typedef enum tv_strategy {
  TV_ONE_FOR_ONE, /* a child restarts alone */
  TV_ONE_FOR_ALL, /* a child's restart restarts every sibling */
  TV_REST_FOR_ONE /* ... and those started after it */
} tv_strategy_t;

typedef struct tv_group tv_group_t;

/* What ops->make fills in for child `index` of an attempt. */
typedef struct tv_group_child {
  tv_str_t *name; /* a new reference the group drops */
  tv_policy_t policy;
  tv_task_t *task;
  tv_add_opts_t opts;   /* after (a malloc'd array of new references the group
                           drops), hooks, explicit_ready */
} tv_group_child_t;

typedef struct tv_group_ops {
  /* Makes child `index` (0-based) for a new attempt: 0, or -1 with *err set
   * (a new reference the group drops). */
  int (*make)(tv_group_t *g, uint32_t index, tv_group_child_t *c, tv_str_t **err);
  /* A made child the supervisor did not take (its add failed). */
  void (*unmake)(tv_group_t *g, tv_task_t *child);
  /* The core is done with the group task (task release). */
  void (*release)(tv_group_t *g);
} tv_group_ops_t;

/* What a child's tree waits for outside the group: the task `name` (for the
 * supervisor's `after` cycle check, while that child is not added yet). */
typedef struct tv_group_wait {
  uint32_t child; /* its index */
  tv_str_t *via;  /* the path from the child to the task that waits: "c1", "h -> c2" */
  tv_str_t *name;
} tv_group_wait_t;

/* One child slot of the current attempt (C_* states in group.c). */
typedef struct tv_group_slot {
  tv_actor_t *actor; /* registered, or NULL */
  uint8_t st;
  uint8_t keep; /* remade (tv_group_remake_child): hold it stopped when made */
  uint8_t sig; /* a significant child (kept across attempts) */
  uint8_t removed; /* remove_child (OTP's delete_child), or a free slot of a template group */
} tv_group_slot_t;

struct tv_group {
  tv_task_t base; /* first: a group is a task */
  const tv_group_ops_t *ops;
  tv_parent_t parent; /* what its children's restarts answer to */
  tv_group_slot_t *slots;
  uint32_t n;
  uint32_t cursor, lo;  /* where the current step is */
  uint64_t first_delay; /* ns: the first resume of a strategy restart */
  uint8_t strategy, phase, outcome, driving, again, ready_sent;
  tv_str_t *reason; /* why the attempt fails */
  tv_work_t report; /* reports the attempt's outcome from the loop */
  char what[300];   /* "group 'name'" */
  void *data;       /* the embedding's */
  tv_group_wait_t *waits; /* tv_group_set_waits; by child */
  uint32_t nwaits;
  uint32_t cap;          /* slots allocated (children added at run time grow n) */
  uint32_t adding;       /* 1 + the child tv_group_add_child is starting now */
  int add_rc;            /* ... and how that went */
  tv_str_t *add_err;
  uint8_t keep_open;     /* a template group (simple_one_for_one): no child is no end */
};

/* Prepares a group of `n` children (the supervisor's tv_sup_add_ex takes it
 * like any task). budget: how many restarts of its children it allows
 * (OTP's intensity/period); action TV_EXHAUST_ESCALATE fails the group.
 * 0 or TV_ENOMEM. */
int tv_group_init(tv_group_t *g, const tv_group_ops_t *ops, tv_strategy_t strategy, uint32_t n,
                  const tv_budget_cfg_t *budget);
/* What the children's trees wait for outside the group (copied: new
 * references; any earlier ones are dropped), sorted by child. Without it
 * the supervisor's cycle check sees only children already added. 0 or
 * TV_ENOMEM (the group keeps none). */
int tv_group_set_waits(tv_group_t *g, const tv_group_wait_t *w, uint32_t n);
/* OTP's auto_shutdown (tv_auto_shutdown_t) and which children are
 * significant (`sig[i]`, n entries; NULL: none). Before the group is added. */
void tv_group_set_auto_shutdown(tv_group_t *g, int mode, const uint8_t *sig);
/* OTP's start_child on a running group: a new last child slot, made by
 * ops->make(index) like the others (the strategy covers it: rest_for_one
 * orders it last). A running group starts it now: an error (its make or add
 * failed: *err a new reference) is the caller's, and the group goes on. A
 * group starting or restarting its children starts it in its turn; one
 * between attempts, at its next. A template group (keep_open) reuses a free
 * slot. *index: its slot. 0, TV_ESHUTDOWN (the group is stopping), TV_EFULL,
 * TV_ENOMEM, or the add's error. */
int tv_group_add_child(tv_group_t *g, uint8_t sig, uint32_t *index, tv_str_t **err);
/* OTP's terminate_child + delete_child: stops child `index` (if it runs; the
 * group does not restart it) and drops it from later attempts. 0 or
 * TV_ENOENT. */
int tv_group_remove_child(tv_group_t *g, uint32_t index);
/* A template group (simple_one_for_one): it has no children until added,
 * does not end when it has none, and each attempt starts with none. */
void tv_group_set_template(tv_group_t *g);
/* The group a task is, or NULL. */
tv_group_t *tv_group_of(tv_task_t *t);
/* Frees what tv_group_init allocated (after release, or when never added);
 * calls tv_task_fini. */
void tv_group_fini(tv_group_t *g);
/* An operator starts child `a` again (operator-stopped, HELD): it resumes as
 * the group's child. 0, or TV_EBUSY while the group restarts or stops its
 * children. */
int tv_group_resume_child(tv_group_t *g, tv_actor_t *a);
/* A reload changed child `i`'s spec (ops->make now makes the new one): the
 * running child stops and is made afresh, with the siblings its strategy
 * restarts with it (one_for_all: all; rest_for_one: the later ones), no
 * budget charged. keep: the new one is held stopped (its predecessor was
 * operator-stopped). 0, or TV_EBUSY while the group is not running steadily. */
int tv_group_remake_child(tv_group_t *g, uint32_t i, int keep);
/* "one_for_one" ... or -1. */
/* group_config.c: frees what tv_group_set_waits kept. */
void tv_group_drop_waits(tv_group_t *g);
int tv_strategy_parse(const char *name);
const char *tv_strategy_name(int s);

#endif
