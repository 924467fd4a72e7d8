/* lmetrics.c - the per-task families of GET /metrics (the Prometheus text
 * format 0.0.4), rendered in C from the core's status of every task
 * (tasklist.h): attempts, restarts, failures by cause, up, ready, uptime,
 * backoff. The host-wide families are few and stay in Lua
 * (lua/taskvisor/metrics.lua), which appends them. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jbuf.h"
#include "lstatus.h"
#include "tasklist.h"


/* A label value escaped as the text format wants: \\, \" and \n. */
static void put_label(jbuf_t *b, const tv_str_t *v) {
  size_t from = 0;
  for (size_t i = 0; i < v->len; i++) {
    const char *esc = v->s[i] == '\\' ? "\\\\" : v->s[i] == '"' ? "\\\"" : v->s[i] == '\n' ? "\\n" : NULL;
    if (!esc) continue;
    jb_put(b, v->s + from, i - from);
    jb_cstr(b, esc);
    from = i + 1;
  }
  jb_put(b, v->s + from, v->len - from);
}

static void family(jbuf_t *b, const char *name, const char *type, const char *help) {
  char line[512];
  int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  jb_put(b, line, (size_t)n);
}

typedef enum { V_ATTEMPTS, V_RESTARTS, V_UP, V_READY, V_UPTIME, V_BACKOFF, V_BACKOFF_LEFT } col_t;

static int is_up(const tv_status_t *st) {
  return st->state == TV_ST_RUNNING || st->state == TV_ST_STARTING;
}

/* A non-negative number of seconds with millisecond precision, "0" for none. */
static void put_ms(jbuf_t *b, uint64_t ms) {
  if (!ms) {
    jb_put(b, "0", 1);
    return;
  }
  jb_int(b, (int64_t)(ms / 1000));
  char f[4] = {'.', (char)('0' + ms / 100 % 10), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10)};
  jb_put(b, f, 4);
}

/* One task's value of a column. */
static void value(jbuf_t *b, const tvc_tasks_t *l, const tv_status_t *st, col_t c) {
  switch (c) {
  case V_ATTEMPTS: jb_int(b, st->attempt); return;
  case V_RESTARTS: jb_int(b, st->restarts); return;
  case V_UP: jb_put(b, is_up(st) ? "1" : "0", 1); return;
  case V_READY: jb_put(b, st->ready && st->state == TV_ST_RUNNING ? "1" : "0", 1); return;
  case V_BACKOFF: jb_put(b, st->state == TV_ST_BACKOFF ? "1" : "0", 1); return;
  case V_UPTIME: put_ms(b, is_up(st) && st->started ? l->now - st->started : 0); return;
  case V_BACKOFF_LEFT:
    put_ms(b, st->state == TV_ST_BACKOFF && st->next_retry > l->now ? st->next_retry - l->now : 0);
    return;
  }
}

/* Each task's label text, {task="..."} and a space, made once per scrape. */
typedef struct labels {
  jbuf_t text;
  size_t *at; /* n + 1 offsets */
} labels_t;

static int labels_make(labels_t *lb, const tvc_tasks_t *l) {
  lb->text = (jbuf_t){0};
  lb->at = malloc((l->n + 1) * sizeof *lb->at);
  if (!lb->at) return -1;
  for (uint32_t i = 0; i < l->n; i++) {
    lb->at[i] = lb->text.len;
    jb_cstr(&lb->text, "{task=\"");
    put_label(&lb->text, l->v[i].name);
    jb_cstr(&lb->text, "\"} ");
  }
  lb->at[l->n] = lb->text.len;
  return lb->text.failed ? -1 : 0;
}

static void column(jbuf_t *b, const tvc_tasks_t *l, const labels_t *lb, const char *name,
                   const char *type, const char *help, col_t c) {
  family(b, name, type, help);
  size_t nlen = strlen(name);
  for (uint32_t i = 0; i < l->n; i++) {
    jb_put(b, name, nlen);
    jb_put(b, lb->text.s + lb->at[i], lb->at[i + 1] - lb->at[i]);
    value(b, l, &l->v[i].st, c);
    jb_put(b, "\n", 1);
  }
}

static void failures(jbuf_t *b, const tvc_tasks_t *l) {
  static const char name[] = "taskvisor_task_failures_total";
  family(b, name, "counter",
         "Failed attempts by cause: exit_code (a process exited non-zero), signal, timeout, "
         "error (a Lua error or a spawn failure); none for a task that never failed.");
  for (uint32_t i = 0; i < l->n; i++) {
    const tv_status_t *st = &l->v[i].st;
    uint32_t any = 0;
    for (int k = 0; k < TV_CAUSE__COUNT; k++) any |= st->failures[k];
    if (!any) continue;
    for (int k = 0; k < TV_CAUSE__COUNT; k++) {
      char v[32];
      jb_cstr(b, name);
      jb_cstr(b, "{task=\"");
      put_label(b, l->v[i].name);
      jb_cstr(b, "\",cause=\"");
      jb_cstr(b, tv_cause_name(k));
      int n = snprintf(v, sizeof v, "\"} %u\n", (unsigned)st->failures[k]);
      jb_put(b, v, (size_t)n);
    }
  }
}

/* task_metrics(sup, order, started_at): the per-task families' text, and
 * how many tasks it covers. */
static int l_task_metrics(lua_State *L) {
  lua_settop(L, 3);
  const tv_sup_t *sup = tvc_sup_arg(L);
  int order = lua_istable(L, 2) ? 2 : 0;
  double started = luaL_optnumber(L, 3, 0);
  tvc_tasks_t l;
  lua_Integer unknown;
  if (tvc_tasks_list(L, sup, order, 0, 0, started, &l, &unknown))
    return luaL_error(L, "not enough memory");
  jbuf_t b = {0};
  labels_t lb;
  if (labels_make(&lb, &l)) {
    tvc_tasks_free(&l);
    jb_free(&lb.text);
    free(lb.at);
    return luaL_error(L, "not enough memory");
  }
  column(&b, &l, &lb, "taskvisor_task_attempts_total", "counter",
         "Attempts started (TaskStarting events) since the task was added.", V_ATTEMPTS);
  column(&b, &l, &lb, "taskvisor_task_restarts_total", "counter",
         "Attempts after the first since the task was added.", V_RESTARTS);
  failures(&b, &l);
  column(&b, &l, &lb, "taskvisor_task_up", "gauge",
         "1 while the task runs (STARTING or RUNNING), else 0.", V_UP);
  column(&b, &l, &lb, "taskvisor_task_ready", "gauge", "1 once the running attempt is ready, else 0.",
         V_READY);
  column(&b, &l, &lb, "taskvisor_task_uptime_seconds", "gauge",
         "Seconds since the running attempt started (0 when not running).", V_UPTIME);
  column(&b, &l, &lb, "taskvisor_task_backoff_pending", "gauge",
         "1 while the task waits out a backoff before its next attempt.", V_BACKOFF);
  column(&b, &l, &lb, "taskvisor_task_backoff_remaining_seconds", "gauge",
         "Seconds until the next attempt of a task in backoff (0 otherwise).", V_BACKOFF_LEFT);
  uint32_t n = l.n;
  tvc_tasks_free(&l);
  jb_free(&lb.text);
  free(lb.at);
  if (b.failed) {
    jb_free(&b);
    return luaL_error(L, "not enough memory");
  }
  lua_pushlstring(L, b.s ? b.s : "", b.len);
  jb_free(&b);
  lua_pushinteger(L, n);
  return 2;
}

void tvc_metrics_open(lua_State *L) {
  static const luaL_Reg funcs[] = {{"task_metrics", l_task_metrics}, {NULL, NULL}};
  luaL_setfuncs(L, funcs, 0);
}
