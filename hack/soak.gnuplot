# Draws a soak run (hack/soak.sh): the live heap and goroutines of each replica, and the p99 of
# delivery, over the run. metrics.csv has, after the seconds, five columns per replica
# (goroutines, live heap MiB, heap in use MiB, fds, RSS MiB) for a, b and c. Call with
# -e "dir='<SOAK_OUT>'".
set terminal pngcairo size 1000,900 font ",10"
set output dir.'/soak.png'
set datafile separator ','
set datafile missing 'NaN'
set key outside right top
set grid
set xlabel 'minutes since the load started'
set multiplot layout 3,1 title 'Soak: three replicas, one Redis, the local control plane'
set ylabel 'live heap (MiB)'
set yrange [0:*]
plot for [i=0:2] dir.'/metrics.csv' using ($1/60):(column(3+5*i)) every ::1 with lines title 'replica '.word("a b c", i+1)
set ylabel 'goroutines'
plot for [i=0:2] dir.'/metrics.csv' using ($1/60):(column(2+5*i)) every ::1 with lines title 'replica '.word("a b c", i+1)
set ylabel 'delivery p99 (ms)'
plot dir.'/latency.csv' using ($1+0.5):4 every ::1 with linespoints title 'room edits', \
     dir.'/watch-latency.csv' using ($1+0.5):4 every ::1 with linespoints title 'watch events'
unset multiplot
