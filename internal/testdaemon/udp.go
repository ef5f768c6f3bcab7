package testdaemon

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// UDPPorts returns the local ports of the UDP sockets process pid holds open, each with the
// number of its sockets bound to that port: what `ss -uanp` shows for the process. It reads
// Linux's /proc (the process's fds, then its network namespace's udp and udp6 tables).
func UDPPorts(pid int) (map[int]int, error) {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		return nil, err
	}
	inodes := make(map[string]bool)
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		if ino, ok := strings.CutPrefix(target, "socket:["); ok {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	ports := make(map[int]int)
	for _, table := range []string{"udp", "udp6"} {
		f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // the header
		for sc.Scan() {
			// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 || !inodes[fields[9]] {
				continue
			}
			_, portHex, ok := strings.Cut(fields[1], ":")
			if !ok {
				continue
			}
			port, err := strconv.ParseUint(portHex, 16, 16)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("%s: local address %q: %w", table, fields[1], err)
			}
			ports[int(port)]++
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return ports, nil
}

// SampleUDPPorts lists the local ports of process pid's UDP sockets every interval until
// running is done, and returns every port seen, sorted, and the number of samples taken.
func SampleUDPPorts(pid int, every time.Duration, running *sync.WaitGroup) ([]int, int, error) {
	done := make(chan struct{})
	go func() { running.Wait(); close(done) }()
	seen := map[int]bool{}
	for samples := 1; ; samples++ {
		ports, err := UDPPorts(pid)
		if err != nil {
			<-done
			return nil, samples, err
		}
		for p := range ports {
			seen[p] = true
		}
		select {
		case <-done:
			out := make([]int, 0, len(seen))
			for p := range seen {
				out = append(out, p)
			}
			slices.Sort(out)
			return out, samples, nil
		case <-time.After(every):
		}
	}
}
