/* test_event.c - event kinds, sequence numbers, duration clamping, strings
 * and error names (the reference's event.rs / error.rs unit tests). */
#include "core/base/error.h"
#include "core/events/event.h"
#include "core/base/str.h"
#include "check.h"

static void kind_names_round_trip(void) {
  CHECK_EQ_U(TV_EV__COUNT, 26); /* the reference's 19 kinds + TaskAddFailed, TaskOutput, TaskReady, HookFailed, Escalated, OutputLost, AutoShutdown */
  for (int k = 0; k < TV_EV__COUNT; k++) CHECK(tv_event_kind_parse(tv_event_kind_name(k)) == k);
  CHECK_STR(tv_event_kind_name(TV_EV_TASK_STARTING), "TaskStarting");
  CHECK_STR(tv_event_kind_name(TV_EV_ACTOR_DEAD), "ActorDead");
  CHECK_STR(tv_event_kind_name(999), "Unknown");
  CHECK(tv_event_kind_parse("taskstarting") == -1);
}

static void diagnostics_are_overflow_and_panic_only(void) {
  for (int k = 0; k < TV_EV__COUNT; k++)
    CHECK(tv_event_is_diagnostic(k) ==
          (k == TV_EV_SUBSCRIBER_OVERFLOW || k == TV_EV_SUBSCRIBER_PANICKED));
}

static void seq_increases(void) {
  uint64_t a = tv_event_next_seq(), b = tv_event_next_seq();
  CHECK(a >= 1);
  CHECK(b == a + 1);
}

static void durations_clamp_to_u32_milliseconds(void) {
  CHECK_EQ_U(tv_ns_to_ms_u32(0), 0);
  CHECK_EQ_U(tv_ns_to_ms_u32(999999), 0);
  CHECK_EQ_U(tv_ns_to_ms_u32(50000000), 50);
  CHECK_EQ_U(tv_ns_to_ms_u32((uint64_t)UINT32_MAX * 1000000ull), UINT32_MAX);
  CHECK_EQ_U(tv_ns_to_ms_u32(((uint64_t)UINT32_MAX + 1000) * 1000000ull), UINT32_MAX);
  CHECK_EQ_U(tv_ns_to_ms_u32(UINT64_MAX), UINT32_MAX);
}

static void new_event_template_has_no_optional_fields(void) {
  tv_event_t ev = tv_event_make(TV_EV_TASK_FAILED);
  CHECK(ev.kind == TV_EV_TASK_FAILED);
  CHECK(ev.fields == 0);
  CHECK(ev.task == NULL && ev.reason == NULL && ev.traceback == NULL);
}

static void strings_are_counted(void) {
  tv_str_t *s = tv_str_printf("execution failed: %s", "boom");
  CHECK_STR(s->s, "execution failed: boom");
  CHECK_EQ_U(s->len, 22);
  CHECK(tv_str_ref(s) == s && s->refs == 2);
  tv_str_unref(s);
  CHECK_EQ_U(s->refs, 1);
  tv_str_unref(s);
  tv_str_unref(NULL); /* harmless */
  tv_str_t *z = tv_str_new("a\0b", 3);
  CHECK(z->len == 3 && z->s[1] == '\0' && z->s[3] == '\0');
  tv_str_unref(z);
}

static void error_names(void) {
  CHECK_STR(tv_err_name(TV_EEXIST), "EEXIST");
  CHECK_STR(tv_err_name(TV_ENOENT), "ENOENT");
  CHECK_STR(tv_err_name(TV_ESHUTDOWN), "ESHUTDOWN");
  CHECK_STR(tv_err_name(TV_ETIMEDOUT), "ETIMEDOUT");
  CHECK_STR(tv_err_name(-12345), "EUNKNOWN");
  CHECK(tv_strerror(TV_EEXIST)[0] != '\0');
  CHECK(TV_EEXIST < 0 && TV_ENOTSUP < 0);
}

int main(void) {
  RUN(kind_names_round_trip);
  RUN(diagnostics_are_overflow_and_panic_only);
  RUN(seq_increases);
  RUN(durations_clamp_to_u32_milliseconds);
  RUN(new_event_template_has_no_optional_fields);
  RUN(strings_are_counted);
  RUN(error_names);
  return check_report();
}
