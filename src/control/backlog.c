/* backlog.c - the event backlog (a ring the bus keeps for us) and followers
 * (a lossy queue each, worked off into a stream). A follower first replays
 * the kept events after its `since` straight from the backlog's ring, as
 * fast as its client reads them, then its own queue; what fell out of the
 * ring during the replay, or what its queue dropped while the client lagged,
 * becomes an EventsLost line at the place it was lost. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backlog.h"
#include "core/base/error.h"

#define CHUNK (64u << 10) /* encoded text handed to the stream at a time */
#define GAPS 32           /* losses remembered at their place; more merge into the last */

typedef struct gap {
  uint64_t pos;  /* the follower's queue position (events popped) it lies before */
  uint64_t lost; /* events */
} gap;

/* One ?follow=1 stream. Owner: its backlog (in b->followers). */
typedef struct follower {
  struct follower *next, **prevp;
  tvc_backlog_t *b;
  tv_sub_t *sub;      /* its queue (TV_SUB_LOSSY) */
  tvc_stream_t *st;   /* the writer's reference */
  tv_work_t work;     /* its deferred run */
  uint64_t replay, replay_end; /* backlog positions still to replay: [replay, replay_end) */
  uint64_t seen_dropped;       /* sub->dropped already placed in gaps */
  uint64_t last_seq;           /* the last event written: EventsLost's "after" */
  gap gaps[GAPS];
  uint32_t gap_head, ngaps;
  int waiting; /* for the client (tvc_stream_full): drained runs it */
} follower;

struct tvc_backlog {
  tv_sup_t *sup;
  tv_sched_t *sched;
  tv_sub_t *sub;     /* the ring (TV_SUB_KEEP_NEWEST); NULL once the bus let go */
  uint64_t last;     /* the newest seq when the bus let go */
  follower *followers;
  unsigned nfollowers, serial;
  tvc_event_enc_t enc;
  tvc_buf_t buf; /* scratch for the runs of followers, one at a time */
};

/* ---- the ring ---------------------------------------------------------------- */

/* Absolute positions in the ring: the kept events are [first, end). */
static uint64_t ring_end(const tvc_backlog_t *b) { return b->sub ? b->sub->delivered : 0; }
static uint64_t ring_first(const tvc_backlog_t *b) { return b->sub ? b->sub->delivered - b->sub->count : 0; }
static const tv_event_t *ring_at(const tvc_backlog_t *b, uint64_t pos) {
  return tv_sub_at(b->sub, (uint32_t)(pos - ring_first(b)));
}

/* The position of the first kept event with seq > since. */
static uint64_t ring_after(const tvc_backlog_t *b, int64_t since) {
  uint64_t lo = ring_first(b), hi = ring_end(b);
  if (since < 0) return lo;
  while (lo < hi) { /* (seqs rise along the ring) */
    uint64_t mid = lo + (hi - lo) / 2;
    if (ring_at(b, mid)->seq > (uint64_t)since) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

uint64_t tvc_backlog_last(const tvc_backlog_t *b) {
  if (!b->sub) return b->last;
  return b->sub->count ? tv_sub_at(b->sub, b->sub->count - 1)->seq : 0;
}

unsigned tvc_backlog_followers(const tvc_backlog_t *b) { return b->nfollowers; }

int tvc_backlog_gone(const tvc_backlog_t *b, int64_t since, uint64_t *oldest) {
  if (since <= 0 || !b->sub || b->sub->count == 0) return 0;
  uint64_t first = tv_sub_at(b->sub, 0)->seq;
  if ((uint64_t)since + 1 >= first) return 0;
  *oldest = first;
  return 1;
}

int tvc_backlog_events(tvc_backlog_t *b, int64_t since, uint64_t limit, tvc_buf_t *out,
                       uint64_t *oldest) {
  if (tvc_backlog_gone(b, since, oldest)) return 1;
  uint64_t pos = ring_after(b, since), end = ring_end(b);
  if (limit && end - pos > limit) end = pos + limit;
  uint64_t next = since >= 0 ? (uint64_t)since : tvc_backlog_last(b);
  if (tvc_buf_add(out, "{\"events\":[", 11) != 0) return -1;
  for (uint64_t p = pos; p < end; p++) {
    const tv_event_t *ev = ring_at(b, p);
    if ((p > pos && tvc_buf_add(out, ",", 1) != 0) || tvc_event_json(&b->enc, out, ev) != 0) return -1;
    next = ev->seq;
  }
  if (tvc_buf_add(out, "],\"next\":", 9) != 0 || tvc_json_uint(out, next) != 0 ||
      tvc_buf_add(out, "}\n", 2) != 0)
    return -1;
  return 0;
}

/* ---- followers ------------------------------------------------------------- */

static void follower_end(follower *f, int flush);

static int add_lost(tvc_buf_t *out, uint64_t lost, uint64_t after) {
  return tvc_buf_add(out, "{\"kind\":\"EventsLost\",\"lost\":", 28) || tvc_json_uint(out, lost) ||
         tvc_buf_add(out, ",\"after\":", 9) || tvc_json_uint(out, after) || tvc_buf_add(out, "}\n", 2);
}

static int add_event(follower *f, tvc_buf_t *out, const tv_event_t *ev) {
  if (tvc_event_json(&f->b->enc, out, ev) != 0 || tvc_buf_add(out, "\n", 1) != 0) return -1;
  f->last_seq = ev->seq;
  return 0;
}

/* What the queue dropped since the last look lies at its end: nothing is
 * admitted after a drop until the consumer (this run) pops. */
static void note_drops(follower *f) {
  uint64_t d = f->sub->dropped - f->seen_dropped;
  if (!d) return;
  f->seen_dropped = f->sub->dropped;
  uint64_t pos = f->sub->delivered + f->sub->count;
  gap *last = f->ngaps ? &f->gaps[(f->gap_head + f->ngaps - 1) % GAPS] : NULL;
  if (last && (last->pos == pos || f->ngaps == GAPS)) {
    last->lost += d;
    return;
  }
  f->gaps[(f->gap_head + f->ngaps++) % GAPS] = (gap){pos, d};
}

/* The buffer to the stream: 0, or -1 when the client is gone. */
static int flush_buf(follower *f, tvc_buf_t *out) {
  int rc = out->len ? tvc_stream_write(f->st, out->p, out->len) : 0;
  out->len = 0;
  return rc;
}

/* Writes what is there until the client has TVC_STREAM_HIGH unread (1:
 * wait for it), the queue is empty (0) or the client is gone (-1). */
static int pump(follower *f, tvc_buf_t *out) {
  tvc_backlog_t *b = f->b;
  out->len = 0;
  if (f->replay < f->replay_end) {
    if (!b->sub) { /* the ring is gone (the bus let go): the rest cannot be had */
      f->replay = f->replay_end;
    } else {
      uint64_t first = ring_first(b);
      if (f->replay < first) { /* overwritten before the client read it */
        uint64_t upto = first < f->replay_end ? first : f->replay_end;
        if (add_lost(out, upto - f->replay, f->last_seq) != 0) return -1;
        f->replay = upto;
      }
      while (f->replay < f->replay_end) {
        if (add_event(f, out, ring_at(b, f->replay)) != 0) return -1;
        f->replay++;
        if (out->len >= CHUNK) {
          if (flush_buf(f, out) != 0) return -1;
          if (tvc_stream_full(f->st)) return 1;
        }
      }
    }
  }
  note_drops(f);
  for (;;) {
    if (f->ngaps && f->gaps[f->gap_head].pos == f->sub->delivered) {
      if (add_lost(out, f->gaps[f->gap_head].lost, f->last_seq) != 0) return -1;
      f->gap_head = (f->gap_head + 1) % GAPS;
      f->ngaps--;
      continue;
    }
    tv_event_t *ev = tv_sub_pop(f->sub);
    if (!ev) break;
    int bad = add_event(f, out, ev);
    tv_bus_event_unref(f->sub->bus, ev);
    if (bad) return -1;
    if (out->len >= CHUNK) {
      if (flush_buf(f, out) != 0) return -1;
      if (tvc_stream_full(f->st)) return 1;
    }
  }
  if (flush_buf(f, out) != 0) return -1;
  return tvc_stream_full(f->st);
}

static void follower_run(tv_work_t *w) {
  follower *f = tv_container_of(w, follower, work);
  int rc = tvc_stream_alive(f->st) ? pump(f, &f->b->buf) : -1;
  if (rc < 0) {
    follower_end(f, 0);
    return;
  }
  f->waiting = rc == 1;
  if (f->waiting) return; /* (drained runs it again) */
  if (!tv_sub_park(f->sub)) tv_work_defer(f->b->sched, &f->work, TV_LANE_NEXT);
}

/* An event for a parked follower: its run is batched per loop pass. */
static void follower_wake(tv_sub_t *sub) {
  follower *f = sub->data;
  if (!f->waiting) tv_work_defer(f->b->sched, &f->work, TV_LANE_NEXT);
}

static void follower_detach(tv_sub_t *sub) { follower_end(sub->data, 1); }

static void stream_drained(void *data) {
  follower *f = data;
  f->waiting = 0;
  tv_work_defer(f->b->sched, &f->work, TV_LANE_NEXT);
}

static void stream_gone(void *data) { follower_end(data, 0); }

static const tv_sub_ops_t follower_ops = {follower_wake, follower_detach};
static const tvc_stream_watch_t follower_watch = {stream_drained, stream_gone};

/* Unsubscribes and ends the stream (flush: what the client can still be
 * sent of the replay and the queue, first). */
static void follower_end(follower *f, int flush) {
  if (flush && tvc_stream_alive(f->st)) {
    tvc_buf_t out = {0};
    pump(f, &out);
    tvc_buf_free(&out);
  }
  tv_work_cancel(&f->work);
  tv_bus_unsubscribe(f->sub);
  tvc_stream_watch(f->st, NULL, NULL);
  tvc_stream_end(f->st);
  *f->prevp = f->next;
  if (f->next) f->next->prevp = f->prevp;
  f->b->nfollowers--;
  free(f);
}

int tvc_backlog_follow(tvc_backlog_t *b, tvc_stream_t *st, int64_t since, uint64_t limit) {
  follower *f = calloc(1, sizeof *f);
  if (!f) {
    tvc_stream_end(st);
    return TV_ENOMEM;
  }
  char name[64];
  int len = snprintf(name, sizeof name, "%s.follow.%u", TVC_BACKLOG_NAME, ++b->serial);
  int rc = tvc_stream_alive(st) ? tv_sup_subscribe(b->sup, name, (size_t)len, TVC_FOLLOW_QUEUE,
                                                   &follower_ops, f, &f->sub)
                                : TV_ECANCELED;
  if (rc != 0) {
    free(f);
    tvc_stream_end(st);
    return rc;
  }
  tv_sub_set_flags(f->sub, TV_SUB_LOSSY);
  f->b = b;
  f->st = st;
  tv_work_init(&f->work, follower_run);
  f->replay = ring_after(b, since);
  f->replay_end = ring_end(b);
  if (limit && f->replay_end - f->replay > limit) f->replay_end = f->replay + limit;
  f->next = b->followers;
  if (f->next) f->next->prevp = &f->next;
  f->prevp = &b->followers;
  b->followers = f;
  b->nfollowers++;
  tvc_stream_watch(st, &follower_watch, f);
  tv_work_defer(b->sched, &f->work, TV_LANE_NEXT);
  return 0;
}

/* ---- the backlog ------------------------------------------------------------ */

static void backlog_wake(tv_sub_t *sub) { (void)sub; } /* (KEEP_NEWEST: never called) */

/* The supervisor closes: followers first (their replays read the ring). */
static void backlog_detach(tv_sub_t *sub) {
  tvc_backlog_t *b = sub->data;
  while (b->followers) follower_end(b->followers, 1);
  b->last = tvc_backlog_last(b);
  b->sub = NULL;
  tv_bus_unsubscribe(sub);
}

static const tv_sub_ops_t backlog_ops = {backlog_wake, backlog_detach};

int tvc_backlog_open(tv_sup_t *sup, uint32_t cap, tvc_backlog_t **out) {
  tvc_backlog_t *b = calloc(1, sizeof *b);
  if (!b) return TV_ENOMEM;
  b->sup = sup;
  b->sched = sup->sched;
  int rc = tv_sup_subscribe(sup, TVC_BACKLOG_NAME, sizeof TVC_BACKLOG_NAME - 1, cap, &backlog_ops, b,
                            &b->sub);
  if (rc != 0) {
    free(b);
    return rc;
  }
  tv_sub_set_flags(b->sub, TV_SUB_KEEP_NEWEST);
  *out = b;
  return 0;
}

void tvc_backlog_close(tvc_backlog_t *b) {
  if (b->sub) backlog_detach(b->sub);
  while (b->followers) follower_end(b->followers, 1); /* (none left: detach ended them) */
  tvc_buf_free(&b->buf);
  free(b);
}
