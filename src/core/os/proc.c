/* proc.c - one run of a child process (see proc.h). */
#define _GNU_SOURCE
#include "core/os/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/error.h"

#define container_of tv_container_of

/* One read buffer for every pump: libuv calls alloc, read and the read
 * callback back to back for one handle, and the callback consumes it. */
static char readbuf[65536];

static void maybe_free(tv_proc_t *p) {
  if (!p->released || p->closing > 0) return;
  for (int i = 0; i < 2; i++) {
    free(p->pumps[i].line);
    free(p->pumps[i].cap);
  }
  tv_str_unref(p->task);
  free(p);
}

static void check_done(tv_proc_t *p) {
  if (p->done || !p->exited || p->pumps[0].reading || p->pumps[1].reading) return;
  p->done = 1;
  tv_timer_stop(p->sched, &p->timer);
  if (!p->released && p->on_done) p->on_done(p); /* last: it may release p */
}

/* ---- output ----------------------------------------------------------------- */

/* The "\r" of a "\r\n" is no part of the line: its last byte kept, or when
 * the line was cut, the last byte cut (not counted as cut, then). */
static void emit_line(tv_pump_t *pu, const char *s, size_t n, uint64_t dropped) {
  tv_proc_t *p = pu->p;
  if (dropped && pu->dropcr)
    dropped--;
  else if (!dropped && n > 0 && s[n - 1] == '\r')
    n--;
  tv_str_t *line;
  if (dropped) { /* built by length: the text may hold NUL bytes */
    char tail[48];
    int tn = snprintf(tail, sizeof tail, " [truncated %llu bytes]", (unsigned long long)dropped);
    char *buf = malloc(n + (size_t)tn);
    if (!buf) return;
    memcpy(buf, s, n);
    memcpy(buf + n, tail, (size_t)tn);
    line = tv_str_new(buf, n + (size_t)tn);
    free(buf);
  } else {
    line = tv_str_new(s, n);
  }
  if (!line) return;
  tv_event_t ev = tv_event_make(TV_EV_TASK_OUTPUT);
  ev.task = p->task;
  ev.attempt = p->attempt;
  ev.stream = pu->stream;
  ev.line = line;
  ev.fields = TV_F_TASK | TV_F_ATTEMPT | TV_F_STREAM | TV_F_LINE;
  tv_bus_publish(p->bus, &ev);
  tv_str_unref(line);
}

/* Lines of at most TV_LINE_MAX bytes; only a line split across reads is
 * buffered (and only while it is). */
static void split_lines(tv_pump_t *pu, const char *buf, size_t n) {
  while (n > 0) {
    const char *nl = memchr(buf, '\n', n);
    size_t seg = nl ? (size_t)(nl - buf) : n;
    if (nl && pu->linelen == 0 && pu->linedrop == 0 && seg <= TV_LINE_MAX) {
      emit_line(pu, buf, seg, 0);
    } else {
      if (!pu->line && !(pu->line = malloc(TV_LINE_MAX))) return;
      size_t room = TV_LINE_MAX - pu->linelen, take = seg < room ? seg : room;
      memcpy(pu->line + pu->linelen, buf, take);
      pu->linelen += (uint32_t)take;
      pu->linedrop += seg - take;
      if (seg > take) pu->dropcr = buf[seg - 1] == '\r';
      if (nl) {
        emit_line(pu, pu->line, pu->linelen, pu->linedrop);
        pu->linelen = 0;
        pu->linedrop = 0;
        free(pu->line);
        pu->line = NULL;
      }
    }
    if (!nl) return;
    buf = nl + 1;
    n -= seg + 1;
  }
}

static void capture(tv_pump_t *pu, size_t max, const char *buf, size_t n) {
  if (pu->caplen + n > max) {
    n = max - pu->caplen;
    pu->truncated = 1;
  }
  if (n == 0) return;
  if (pu->caplen + n > pu->capsize) {
    size_t size = pu->capsize ? pu->capsize : 4096;
    while (size < pu->caplen + n) size *= 2;
    if (size > max) size = max;
    char *c = realloc(pu->cap, size);
    if (!c) {
      pu->truncated = 1;
      return;
    }
    pu->cap = c;
    pu->capsize = size;
  }
  memcpy(pu->cap + pu->caplen, buf, n);
  pu->caplen += n;
}

/* OutputLost: what the log file refused since the last report (rate-limited
 * by the file; `force` when the stream ends, so no loss goes unsaid). */
static void report_loss(tv_pump_t *pu, tv_outfile_t *f, int force) {
  tv_proc_t *p = pu->p;
  uint64_t bytes;
  int err;
  if (!p->bus || !f->path || !tv_outfile_report(f, tv_sched_now(p->sched), force, &bytes, &err))
    return;
  tv_event_t ev = tv_event_make(TV_EV_OUTPUT_LOST);
  ev.task = p->task;
  ev.attempt = p->attempt;
  ev.stream = pu->stream;
  ev.reason = tv_str_printf("%s: %s", uv_err_name(err), uv_strerror(err));
  ev.file = tv_str_new(f->path, strlen(f->path));
  ev.bytes = bytes;
  ev.fields = TV_F_TASK | TV_F_ATTEMPT | TV_F_STREAM | TV_F_BYTES | (ev.reason ? TV_F_REASON : 0) |
              (ev.file ? TV_F_FILE : 0);
  tv_bus_publish(p->bus, &ev);
  tv_str_unref(ev.reason);
  tv_str_unref(ev.file);
}

static void sink(tv_pump_t *pu, const char *buf, size_t n) {
  tv_proc_t *p = pu->p;
  const tv_proc_out_t *o = &p->out[pu->stream - 1];
  if (o->file) {
    tv_outfile_write(o->file, buf, n);
    if (o->file->unreported) report_loss(pu, o->file, 0);
  }
  if (o->events && p->bus && p->bus->nsubs) split_lines(pu, buf, n);
  if (o->capture_max) capture(pu, o->capture_max, buf, n);
}

static void on_pump_closed(uv_handle_t *h) {
  tv_pump_t *pu = container_of((uv_pipe_t *)h, tv_pump_t, pipe);
  pu->p->closing--;
  maybe_free(pu->p);
}

static void end_pump(tv_pump_t *pu) {
  if (!pu->open) return;
  pu->open = pu->reading = 0;
  tv_proc_t *p = pu->p;
  if (pu->linelen && p->bus && !p->released) { /* an unterminated last line */
    emit_line(pu, pu->line, pu->linelen, pu->linedrop);
    pu->linelen = 0;
  }
  tv_outfile_t *f = p->out[pu->stream - 1].file;
  if (f) { /* the stream ended: its held last line goes to the file now */
    tv_outfile_flush(f);
    report_loss(pu, f, 1);
  }
  uv_close((uv_handle_t *)&pu->pipe, on_pump_closed);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
  (void)h;
  (void)suggested;
  *buf = uv_buf_init(readbuf, sizeof readbuf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf) {
  tv_pump_t *pu = container_of((uv_pipe_t *)s, tv_pump_t, pipe);
  tv_sched_t *sched = pu->p->sched;
  if (n > 0) {
    sink(pu, buf->base, (size_t)n);
  } else if (n < 0) { /* EOF: every writer is gone */
    end_pump(pu);
    check_done(pu->p);
  }
  tv_sched_flush(sched); /* deliver what was published */
}

/* ---- the child ------------------------------------------------------------ */

static void on_exit_cb(tv_child_t *c, int status) {
  tv_proc_t *p = c->data;
  tv_sched_t *sched = p->sched;
  p->child = NULL;
  p->exited = 1;
  p->status = status;
  tv_timer_stop(p->sched, &p->timer);
  if (p->pumps[0].reading || p->pumps[1].reading)
    tv_timer_start(p->sched, &p->timer, TV_PROC_DRAIN_MS);
  check_done(p);
  tv_sched_flush(sched);
}

static void on_timer(tv_timer_t *t) {
  tv_proc_t *p = container_of(t, tv_proc_t, timer);
  if (p->exited) { /* drain deadline: escaped writers keep the pipes open */
    end_pump(&p->pumps[0]);
    end_pump(&p->pumps[1]);
    check_done(p);
  } else if (p->stopping) {
    tv_proc_kill(p);
  } else { /* the run's timeout */
    p->timed_out = 1;
    tv_proc_stop(p);
  }
}

void tv_proc_stop(tv_proc_t *p) {
  if (p->exited || p->stopping || !p->child) return;
  p->stopping = 1;
  tv_child_stopping(p->child); /* the leader's exit leaves the rest their stop_timeout */
  tv_child_signal(p->child, p->stop_signal);
  if (p->stop_signal != SIGKILL && p->stop_signal != SIGCONT)
    tv_child_signal(p->child, SIGCONT); /* a stopped process must see it */
  tv_timer_start(p->sched, &p->timer, p->stop_timeout_ms);
}

void tv_proc_kill(tv_proc_t *p) {
  if (p->exited || !p->child) return;
  p->stopping = p->killed = 1;
  tv_timer_stop(p->sched, &p->timer);
  tv_child_signal(p->child, SIGKILL);
}

int tv_proc_signal(tv_proc_t *p, int sig) {
  if (p->exited || !p->child) return TV_ESRCH;
  return tv_child_signal(p->child, sig);
}

void tv_proc_release(tv_proc_t *p) {
  p->released = 1;
  p->bus = NULL;
  tv_timer_stop(p->sched, &p->timer);
  tv_timer_unreserve(p->sched, &p->timer);
  if (p->child) {
    tv_child_disown(p->child);
    p->child = NULL;
  }
  end_pump(&p->pumps[0]);
  end_pump(&p->pumps[1]);
  maybe_free(p);
}

static int open_pump(tv_proc_t *p, int i, int fd, uv_loop_t *loop) {
  tv_pump_t *pu = &p->pumps[i];
  int rc = uv_pipe_init(loop, &pu->pipe, 0);
  if (rc == 0) {
    rc = uv_pipe_open(&pu->pipe, fd);
    p->closing++;
    pu->open = 1;
    if (rc) {
      close(fd);
    } else if ((rc = uv_read_start((uv_stream_t *)&pu->pipe, on_alloc, on_read)) == 0) {
      pu->reading = 1;
      return 0;
    }
    end_pump(pu);
    return rc;
  }
  close(fd);
  return rc;
}

int tv_proc_start(tv_proc_t **out, const tv_proc_cfg_t *cfg, int *stage) {
  *stage = TV_SPAWN_AT_SETUP;
  tv_proc_t *p = calloc(1, sizeof *p);
  if (!p) return -ENOMEM;
  /* the stop escalation must always arm: room reserved before the spawn */
  tv_timer_init(&p->timer, on_timer);
  if (tv_timer_reserve(cfg->sched, &p->timer) != 0) {
    free(p);
    return -ENOMEM;
  }
  int devnull = -1, pipes[2][2] = {{-1, -1}, {-1, -1}}, rc = 0;
  tv_spawn_t sp = cfg->spawn;
  int need_null = cfg->stdin_mode == TV_IO_NULL;
  for (int i = 0; i < 2; i++) need_null |= cfg->out[i].mode == TV_IO_NULL;
  if (need_null && (devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) < 0) rc = -errno;
  sp.fds[0] = cfg->stdin_mode == TV_IO_NULL ? devnull
              : cfg->stdin_mode == TV_IO_FD ? cfg->stdin_fd
                                            : 0;
  for (int i = 0; i < 2 && rc == 0; i++) {
    int mode = cfg->out[i].mode;
    if (mode == TV_IO_PIPE && pipe2(pipes[i], O_CLOEXEC) != 0) rc = -errno;
    sp.fds[i + 1] = mode == TV_IO_NULL ? devnull : mode == TV_IO_PIPE ? pipes[i][1] : i + 1;
  }
  if (rc == 0) rc = tv_reaper_spawn(cfg->reaper, &sp, &p->child, stage, on_exit_cb, p);
  if (devnull >= 0) close(devnull);
  for (int i = 0; i < 2; i++)
    if (pipes[i][1] >= 0) close(pipes[i][1]);
  if (rc != 0) {
    for (int i = 0; i < 2; i++)
      if (pipes[i][0] >= 0) close(pipes[i][0]);
    tv_timer_unreserve(cfg->sched, &p->timer);
    free(p);
    return rc;
  }
  p->pid = p->child->pid;
  memcpy(p->out, cfg->out, sizeof p->out);
  p->stop_signal = cfg->stop_signal;
  p->stop_timeout_ms = cfg->stop_timeout_ms;
  p->sched = cfg->sched;
  p->bus = cfg->bus;
  p->task = tv_str_ref(cfg->task);
  p->attempt = cfg->attempt;
  p->on_done = cfg->on_done;
  p->data = cfg->data;
  for (int i = 0; i < 2; i++) {
    p->pumps[i].p = p;
    p->pumps[i].stream = (uint8_t)(i + 1);
    if (pipes[i][0] >= 0) open_pump(p, i, pipes[i][0], cfg->reaper->loop);
  }
  if (cfg->timeout_ms) tv_timer_start(p->sched, &p->timer, cfg->timeout_ms);
  *out = p;
  return 0;
}
