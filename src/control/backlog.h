/* backlog.h - the control API's event backlog and its followers, in C.
 *
 * The backlog is a TV_SUB_KEEP_NEWEST subscriber of a supervisor's bus: the
 * newest `cap` events kept in its ring, read in place, so keeping them costs
 * each publish one ring store and no wake-up. Queries answer /v1/events as
 * JSON text (event_json.c). A follower (?follow=1) is a TV_SUB_LOSSY
 * subscriber of its own with a bounded queue, worked off from deferred work
 * (never inside a publish) into its connection's stream; it waits while the
 * client has TVC_STREAM_HIGH bytes unread, and what its full queue dropped
 * meanwhile it says in the stream, where it was lost:
 * {"kind":"EventsLost","lost":N,"after":SEQ} (docs/control-api.md).
 * Owner: the caller of tvc_backlog_open (tvc_backlog_close); the backlog owns
 * its followers, each of which owns the writer's reference of its stream.
 * Layers up: json peer listener event_json | server | backlog | lbacklog lserver. */
#ifndef TVC_BACKLOG_H
#define TVC_BACKLOG_H

#include <stdint.h>

#include "core/supervision/supervisor.h"
#include "event_json.h"
#include "server.h"

typedef struct tvc_backlog tvc_backlog_t;

#define TVC_BACKLOG_NAME "taskvisor.control" /* the subscriber's name (metrics show it); followers .follow.N */
#define TVC_FOLLOW_QUEUE 16384               /* a follower's queue, in events */

/* Subscribes a backlog of cap (>= 1) events to sup. 0, or a TV_E* code. */
int tvc_backlog_open(tv_sup_t *sup, uint32_t cap, tvc_backlog_t **out);
/* Ends every follower's stream (what can be sent of its queue first) and
 * unsubscribes. b is gone after. */
void tvc_backlog_close(tvc_backlog_t *b);

/* since (< 0: not given) has fallen out of the backlog: 1 and the oldest
 * kept seq in *oldest, else 0. */
int tvc_backlog_gone(const tvc_backlog_t *b, int64_t since, uint64_t *oldest);
/* Appends {"events":[...],"next":N} with the kept events after since (all
 * when since < 0), oldest first, at most limit (0: no limit). 0, 1 gone
 * (*oldest set, nothing appended), or -1 (no memory). */
int tvc_backlog_events(tvc_backlog_t *b, int64_t since, uint64_t limit, tvc_buf_t *out,
                       uint64_t *oldest);
/* Streams to st the kept events after since (as tvc_backlog_events gives
 * them), then every new one. Takes over the writer's reference of st (ended
 * here on failure). 0, or a TV_E* code. */
int tvc_backlog_follow(tvc_backlog_t *b, tvc_stream_t *st, int64_t since, uint64_t limit);
/* Followers now, and the seq of the newest event kept (0: none yet). */
unsigned tvc_backlog_followers(const tvc_backlog_t *b);
uint64_t tvc_backlog_last(const tvc_backlog_t *b);

#endif
