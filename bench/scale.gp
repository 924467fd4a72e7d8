# bench/scale.gp: plots bench/scale.sh's figures (gnuplot -e "dir='bench/plots'").
if (!exists("dir")) dir = 'bench/plots'
set terminal svg size 640,400 enhanced font "sans,11" background rgb "white"
set grid
set key below
set logscale x 10
set format x "%.0f"

set output dir.'/tasks.svg'
set xrange [500:2000000]
set title "Lua tasks: restart throughput and memory per idle task"
set xlabel "tasks"
set ylabel "attempts/s (millions)"
set y2label "bytes per idle task (RSS)"
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:2000]
plot dir.'/tasks.dat' using 1:($2/1e6) with linespoints lw 2 title "attempts/s", \
     '' using 1:3 axes x1y2 with linespoints lw 2 title "bytes/task (RSS)", \
     1400 axes x1y2 with lines lw 1 lc rgb 'gray40' title "target 1,400 B"

set output dir.'/procs.svg'
set xrange [5:6000]
set title "Idle child processes: host RSS and wakeups"
set xlabel "idle children"
set ylabel "host RSS (MiB)"
set y2label "wakeups/s (voluntary context switches)"
set yrange [0:*]
set y2range [0:10]
plot dir.'/procs.dat' using 1:($2/1024) with linespoints lw 2 title "RSS", \
     '' using 1:3 axes x1y2 with linespoints lw 2 title "wakeups/s", \
     6 with lines lw 1 lc rgb 'gray40' title "target 6 MiB (at 1,000)"

set output dir.'/shutdown.svg'
set xrange [5:6000]
set title "Shutdown of children that exit on SIGTERM"
set xlabel "children"
set ylabel "sup:shutdown() to sup:run() returning (ms)"
unset y2label
unset y2tics
set yrange [0:*]
plot dir.'/shutdown.dat' using 1:2 with linespoints lw 2 title "shutdown", \
     200 with lines lw 1 lc rgb 'gray40' title "target 200 ms (at 1,000)"

unset logscale x
set autoscale x
set format x "%g"
set output dir.'/latency.svg'
set title "Restart latency: child exit to the next child's main (1,000 restarts)"
set xlabel "run"
set ylabel "ms"
set xtics 1
set style data histograms
set style histogram clustered
set style fill solid 0.8
set yrange [0:*]
plot dir.'/latency.dat' using 2:xtic(1) title "p50", '' using 3 title "p90", \
     '' using 4 title "p99", '' using 5 title "max", 1 with lines lw 1 lc rgb 'gray40' title "target p99 1 ms"
