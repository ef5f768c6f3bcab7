package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procSample is the CPU time so far of each process under the browser, by kind.
type procSample map[int]procCPU

type procCPU struct {
	kind string // "renderer", "network", or "other" (browser, GPU, other utilities, zygotes)
	secs float64
}

// sampleBrowserCPU walks /proc for root and its descendants (the chromium launcher script,
// the browser, its zygotes and children) and reads each one's utime+stime.
func sampleBrowserCPU(root int) (procSample, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	cpu := map[int]float64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, secs, err := procStat(pid)
		if err != nil {
			continue // gone meanwhile
		}
		children[ppid] = append(children[ppid], pid)
		cpu[pid] = secs
	}
	if _, ok := cpu[root]; !ok {
		return nil, fmt.Errorf("browser process %d is gone", root)
	}
	out := procSample{}
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		out[pid] = procCPU{kind: procKind(pid), secs: cpu[pid]}
		queue = append(queue, children[pid]...)
	}
	return out, nil
}

// procStat returns the parent pid and user+system CPU seconds of pid.
func procStat(pid int) (ppid int, secs float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	// After the command: state (field 3), ppid (4), …, utime (14), stime (15).
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	ut, err2 := strconv.ParseFloat(f[11], 64)
	st, err3 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return ppid, (ut + st) / clockTicks, nil
}

// procKind classifies a Chromium process by its command line.
func procKind(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "other"
	}
	cmd := string(b)
	switch {
	case strings.Contains(cmd, "--type=renderer"):
		return "renderer"
	case strings.Contains(cmd, "--type=utility") && strings.Contains(cmd, "NetworkService"):
		return "network"
	default:
		return "other"
	}
}

// cpuDelta is the CPU seconds spent between two samples by the processes of the given kinds
// (all kinds when none are given). A process that appeared meanwhile counts from zero; one
// that exited meanwhile is lost, which is why the bench samples around reads only, when no
// navigation starts or ends a renderer.
func cpuDelta(before, after procSample, kinds ...string) float64 {
	var sum float64
	for pid, a := range after {
		if len(kinds) > 0 && !contains(kinds, a.kind) {
			continue
		}
		sum += a.secs - before[pid].secs
	}
	return sum
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
