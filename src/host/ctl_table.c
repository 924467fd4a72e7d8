/* ctl_table.c - text in aligned columns, as `supervisorctl status` and
 * `pm2 ls` print it: widths from the widest cell, colour (an SGR code per
 * cell) only around the text so the padding stays aligned. */
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

typedef struct cell {
  char *text;
  const char *colour; /* static SGR code or NULL */
} cell;

/* Owned by its creator; cells are copies. */
struct tv_client_table {
  int ncols;
  const char *const *header;
  cell *cells;
  size_t n, cap;
};

tv_client_table_t *tv_client_table_new(int ncols, const char *const *header) {
  tv_client_table_t *t = calloc(1, sizeof *t);
  if (t) {
    t->ncols = ncols;
    t->header = header;
  }
  return t;
}

void tv_client_table_cell(tv_client_table_t *t, const char *text, const char *colour) {
  if (t->n == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 64;
    cell *c = realloc(t->cells, cap * sizeof *c);
    if (c == NULL) return; /* (a cell lost to no memory: the row shifts, no crash) */
    t->cells = c;
    t->cap = cap;
  }
  t->cells[t->n].text = strdup(text ? text : "");
  t->cells[t->n].colour = colour;
  if (t->cells[t->n].text) t->n++;
}

static void put(FILE *out, const char *text, const char *colour, int width, int last, int color) {
  if (color && colour) fprintf(out, "\033[%sm%s\033[0m", colour, text);
  else fputs(text, out);
  if (last) return;
  for (int pad = width - (int)strlen(text) + 2; pad > 0; pad--) fputc(' ', out);
}

void tv_client_table_print(tv_client_table_t *t, FILE *out, int color) {
  int *w = calloc((size_t)t->ncols, sizeof *w);
  if (w == NULL) return;
  for (int c = 0; c < t->ncols; c++) w[c] = (int)strlen(t->header[c]);
  for (size_t i = 0; i < t->n; i++) {
    int len = (int)strlen(t->cells[i].text);
    if (len > w[i % t->ncols]) w[i % t->ncols] = len;
  }
  for (int c = 0; c < t->ncols; c++) put(out, t->header[c], color ? "1" : NULL, w[c], c == t->ncols - 1, color);
  fputc('\n', out);
  for (size_t i = 0; i < t->n; i++) {
    int c = (int)(i % t->ncols);
    put(out, t->cells[i].text, t->cells[i].colour, w[c], c == t->ncols - 1, color);
    if (c == t->ncols - 1) fputc('\n', out);
  }
  if (t->n % t->ncols) fputc('\n', out);
  free(w);
}

void tv_client_table_free(tv_client_table_t *t) {
  if (t == NULL) return;
  for (size_t i = 0; i < t->n; i++) free(t->cells[i].text);
  free(t->cells);
  free(t);
}
