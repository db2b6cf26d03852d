set terminal png size 1200,500 noenhanced
set output 'bench.png'
set multiplot layout 1,2
set title 'start latency (every sample)'
set ylabel 'ms'
set xtics ("floor.qemu_exec" 0, "floor.stu_qmp" 1, "floor.stu_qmp_sandboxed" 2, "machina.start.bus" 3, "machina.start.cli" 4) rotate by -20
set xrange [-0.5:4.5]
plot for [i=0:4] 'start.dat' index i using 1:2 with points pt 7 notitle
set title 'list time vs defined guests (median)'
set xlabel 'guests'
set autoscale x
set xtics auto norotate
plot 'list.dat' index 0 with linespoints title 'floor.gmo_process', 'list.dat' index 1 with linespoints title 'machina.gmo.bus', 'list.dat' index 2 with linespoints title 'machina.list.bus', 'list.dat' index 3 with linespoints title 'machina.list.cli'
unset multiplot
