package cluster

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// memoryOf sums resident (Rss) and proportional (Pss) set sizes, in bytes, of
// the given processes from /proc/<pid>/smaps_rollup. Rss counts shared pages
// (the binary's text) once per process; Pss divides them among the sharers,
// so the Pss sum is what the processes together really occupy.
func memoryOf(pids []int) (rss, pss float64) {
	for _, pid := range pids {
		f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) < 2 {
				continue
			}
			kb, err := strconv.ParseFloat(fields[1], 64)
			if err != nil {
				continue
			}
			switch fields[0] {
			case "Rss:":
				rss += kb * 1024
			case "Pss:":
				pss += kb * 1024
			}
		}
		f.Close()
	}
	return rss, pss
}
