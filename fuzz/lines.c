/* fuzz/lines.c - what a process task does with a child's output (src/core/
 * proc.c, compiled in here for its static pump functions): the bytes of one
 * stream, cut into reads of random sizes, go through the same sink as a
 * real read (TaskOutput lines, bounded capture for ctx:exec), then the
 * stream ends as at EOF. Checked against the documented behaviour: one
 * TaskOutput per line, without its "\n" (nor the "\r" of "\r\n"), lines over
 * TV_LINE_MAX bytes cut to that and ending "[truncated N bytes]", an
 * unterminated last line still published, NUL bytes kept; the capture is
 * the first max bytes, flagged truncated when there were more. */
#include "../src/core/os/proc.c"

#include "fuzz.h"

static void wake(tv_sub_t *sub) { (void)sub; }
static const tv_sub_ops_t sub_ops = {wake, NULL};

static tv_clock_t clock_;
static tv_bus_t bus;
static tv_sub_t *sub;
static uv_loop_t loop;

static void init(void) {
  tv_clock_init_manual(&clock_, 0);
  tv_bus_init(&bus, &clock_);
  /* more room than lines in any input: no overflow */
  if (tv_bus_subscribe(&bus, "fuzz", 4, 1u << 20, &sub_ops, NULL, &sub) != 0) abort();
  uv_loop_init(&loop);
}

/* The next expected line: input[*pos..] up to "\n" (or the end). */
static size_t expected_line(const uint8_t *s, size_t n, size_t *pos, char *out) {
  const uint8_t *nl = memchr(s + *pos, '\n', n - *pos);
  size_t len = nl ? (size_t)(nl - (s + *pos)) : n - *pos;
  const uint8_t *line = s + *pos;
  *pos += len + (nl ? 1 : 0);
  if (len > 0 && line[len - 1] == '\r') len--;
  if (len <= TV_LINE_MAX) {
    memcpy(out, line, len);
    return len;
  }
  memcpy(out, line, TV_LINE_MAX);
  return TV_LINE_MAX + (size_t)sprintf(out + TV_LINE_MAX, " [truncated %zu bytes]", len - TV_LINE_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!sub) init();
  fz_in in = {data, size};
  uint32_t rng = (uint32_t)fz_uint(&in, 2) * 2654435761u | 1;
  uint8_t cap_sel = fz_u8(&in);
  size_t cap_max = cap_sel == 0 ? 0 : (size_t)cap_sel * 97;
  const uint8_t *text = in.p;
  size_t total = in.n;

  tv_proc_t p;
  memset(&p, 0, sizeof p);
  p.bus = &bus;
  p.task = tv_str_new("fuzz", 4);
  p.attempt = 1;
  p.out[0].mode = TV_IO_PIPE;
  p.out[0].events = 1;
  p.out[0].capture_max = cap_max;
  tv_pump_t *pu = &p.pumps[0];
  pu->p = &p;
  pu->stream = TV_STREAM_STDOUT;
  uv_pipe_init(&loop, &pu->pipe, 0); /* only to be closed by end_pump, as at EOF */
  pu->open = pu->reading = 1;
  p.closing = 1;

  for (size_t off = 0; off < total;) { /* reads of 1..5000 bytes */
    rng ^= rng << 13, rng ^= rng >> 17, rng ^= rng << 5;
    size_t n = 1 + rng % (rng & 0x100 ? 5000 : 16);
    if (n > total - off) n = total - off;
    sink(pu, (const char *)text + off, n);
    off += n;
  }
  end_pump(pu);
  uv_run(&loop, UV_RUN_NOWAIT);
  FZ_CHECK(p.closing == 0, "the pipe was not closed");

  char *want = malloc(TV_LINE_MAX + 64);
  size_t pos = 0, nlines = 0;
  tv_event_t *ev;
  while ((ev = tv_sub_pop(sub))) {
    FZ_CHECK(ev->kind == TV_EV_TASK_OUTPUT && ev->stream == TV_STREAM_STDOUT && ev->line,
             "unexpected event %s", tv_event_kind_name(ev->kind));
    FZ_CHECK(pos < total, "line %zu published after the last one: \"%.*s\"", nlines,
             (int)ev->line->len, ev->line->s);
    size_t n = expected_line(text, total, &pos, want);
    FZ_CHECK(ev->line->len == n && memcmp(ev->line->s, want, n) == 0,
             "line %zu is \"%.*s\" (%u bytes), want \"%.*s\" (%zu bytes)", nlines,
             (int)(ev->line->len > 80 ? 80 : ev->line->len), ev->line->s, ev->line->len,
             (int)(n > 80 ? 80 : n), want, n);
    nlines++;
    tv_bus_event_unref(&bus, ev);
  }
  FZ_CHECK(pos == total, "%zu lines published; bytes %zu.. had more", nlines, pos);
  free(want);

  if (cap_max) {
    size_t kept = total < cap_max ? total : cap_max;
    FZ_CHECK(pu->caplen == kept && (kept == 0 || memcmp(pu->cap, text, kept) == 0),
             "captured %zu bytes, want the first %zu", pu->caplen, kept);
    FZ_CHECK(pu->truncated == (total > cap_max), "truncated=%d after %zu of max %zu bytes",
             pu->truncated, total, cap_max);
  }
  free(pu->line);
  free(pu->cap);
  tv_str_unref(p.task);
  return 0;
}
