# bench/fleet's plot: N against the peak TPS sent to each API, with the quotas (solid) and 10 %
# of them (dotted, the target). Left: issue 14's full probe as the health step; right: what
# `credcheck health` sends (the too-old PutLogEvents alone). Grey: no cache (N / 30 s).
set terminal pngcairo size 2000,640 font "DejaVu Sans,11"
set output "bench/fleet.png"
set multiplot layout 1,3 title "Peak TPS per API across a fleet (health check every 30 s, --probe-every 10m, 20 % jitter, starts over 5 min)"
set xlabel "tasks in the fleet (N)"
set ylabel "peak requests per second (account, Region)"
set logscale xy
set xrange [80:130000]
set yrange [0.1:10000]
set format x "%.0s%c"
set format y "%g"
set key left top spacing 1.1 box opaque
set grid xtics ytics lc rgb "#dddddd"
set style line 1 lc rgb "#d62728" lw 2 pt 7
set style line 2 lc rgb "#1f77b4" lw 2 pt 5
set style line 3 lc rgb "#2ca02c" lw 2 pt 9
quota(y, c) = y
set label 1 "quotas: solid (Describe 5, Create 50, Put 800 assumed)\n10 % of each: dotted\nthe three peaks coincide (one full probe each)" at graph 0.30, graph 0.12 font ",10"
set title "issue 14's full probe when no verdict is cached (start, change)"
plot \
  "bench/fleet.dat" using 1:2 with linespoints ls 1 title "DescribeLogStreams", \
  "bench/fleet.dat" using 1:3 with linespoints ls 2 title "CreateLogStream", \
  "bench/fleet.dat" using 1:4 with linespoints ls 3 title "PutLogEvents", \
  x/30.0 with lines lc rgb "#999999" lw 1 dt 4 title "no cache: N / 30 s per API", \
  5 with lines lc rgb "#d62728" lw 1 notitle, 0.5 with lines lc rgb "#d62728" lw 1 dt 3 notitle, \
  50 with lines lc rgb "#1f77b4" lw 1 notitle, 5.02 with lines lc rgb "#1f77b4" lw 1 dt 3 notitle, \
  800 with lines lc rgb "#2ca02c" lw 1 notitle, 80 with lines lc rgb "#2ca02c" lw 1 dt 3 notitle
set title "credcheck health, no router counters: PutLogEvents + CreateLogStream"
set label 1 "quotas: solid (Describe 5, Create 50, Put 800 assumed)\n10 % of each: dotted" at graph 0.30, graph 0.12 font ",10"
plot \
  "bench/fleet.dat" using 1:6 with linespoints ls 2 title "CreateLogStream", \
  "bench/fleet.dat" using 1:7 with linespoints ls 3 title "PutLogEvents (Describe: none)", \
  x/30.0 with lines lc rgb "#999999" lw 1 dt 4 title "no cache: N / 30 s per API", \
  5 with lines lc rgb "#d62728" lw 1 notitle, 0.5 with lines lc rgb "#d62728" lw 1 dt 3 notitle, \
  50 with lines lc rgb "#1f77b4" lw 1 notitle, 5.02 with lines lc rgb "#1f77b4" lw 1 dt 3 notitle, \
  800 with lines lc rgb "#2ca02c" lw 1 notitle, 80 with lines lc rgb "#2ca02c" lw 1 dt 3 notitle
set title "credcheck health with the router's counters (HTTP_Server On)"
plot \
  "bench/fleet.dat" using 1:9 with linespoints ls 2 title "CreateLogStream", \
  "bench/fleet.dat" using 1:10 with linespoints ls 3 title "PutLogEvents (Describe: none)", \
  x/30.0 with lines lc rgb "#999999" lw 1 dt 4 title "no cache: N / 30 s per API", \
  5 with lines lc rgb "#d62728" lw 1 notitle, 0.5 with lines lc rgb "#d62728" lw 1 dt 3 notitle, \
  50 with lines lc rgb "#1f77b4" lw 1 notitle, 5.02 with lines lc rgb "#1f77b4" lw 1 dt 3 notitle, \
  800 with lines lc rgb "#2ca02c" lw 1 notitle, 80 with lines lc rgb "#2ca02c" lw 1 dt 3 notitle
unset multiplot
