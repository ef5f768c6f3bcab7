//go:build !js && linux

package udpmux

import (
	"encoding/binary"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// canBatch says that recvmmsg(2) exists, so a reader can take many datagrams
// per system call.
const canBatch = true

// mmsghdr is struct mmsghdr of recvmmsg(2): a msghdr and the length the
// kernel received. Go pads it as C does, to the msghdr's alignment.
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// batchSource reads up to len(hdrs) datagrams per recvmmsg call, through
// the runtime's poller (syscall.RawConn.Read), into buffers it owns. Unlike
// golang.org/x/net/ipv4's ReadBatch it allocates nothing per datagram: the
// source addresses stay raw sockaddrs until datagram decodes them.
type batchSource struct {
	rc    syscall.RawConn
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6 // large enough for an IPv4 sockaddr too
	bufs  [][]byte
	recv  func(fd uintptr) bool // made once, so that read does not allocate
	got   int
	errno syscall.Errno
	zones map[uint32]string // interface names by index, for link-local sources
}

func newBatchSource(sock *net.UDPConn, batch int) source {
	rc, err := sock.SyscallConn()
	if err != nil {
		return nil
	}
	s := &batchSource{
		rc:    rc,
		hdrs:  make([]mmsghdr, batch),
		iovs:  make([]unix.Iovec, batch),
		names: make([]unix.RawSockaddrInet6, batch),
		bufs:  make([][]byte, batch),
	}
	for i := range batch {
		// One byte more than maxPacket, to tell a datagram of maxPacket
		// bytes from a longer one the kernel truncated.
		s.bufs[i] = make([]byte, maxPacket+1)
		s.iovs[i].Base = &s.bufs[i][0]
		s.iovs[i].SetLen(len(s.bufs[i]))
		s.hdrs[i].hdr.Iov = &s.iovs[i]
		s.hdrs[i].hdr.SetIovlen(1)
		s.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&s.names[i]))
	}
	s.recv = s.recvmmsg
	return s
}

// recvmmsg is the callback for RawConn.Read: false means "would block, wait
// for the poller".
func (s *batchSource) recvmmsg(fd uintptr) bool {
	for i := range s.hdrs {
		s.hdrs[i].hdr.Namelen = unix.SizeofSockaddrInet6
		s.hdrs[i].hdr.Flags = 0
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(len(s.hdrs)),
			unix.MSG_DONTWAIT, 0, 0)
		switch e {
		case unix.EINTR:
			continue // with an edge-triggered poller, waiting could miss what is queued
		case unix.EAGAIN:
			return false
		}
		s.got, s.errno = int(r), e
		return true
	}
}

func (s *batchSource) read() (int, error) {
	if err := s.rc.Read(s.recv); err != nil {
		return 0, err // net.ErrClosed once the socket is closed
	}
	if s.errno != 0 {
		return 0, &net.OpError{Op: "read", Net: "udp", Err: s.errno}
	}
	return s.got, nil
}

func (s *batchSource) datagram(i int) ([]byte, netip.AddrPort) {
	n := int(s.hdrs[i].n)
	name := &s.names[i]
	var from netip.AddrPort
	port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&name.Port))[:])
	switch name.Family {
	case unix.AF_INET:
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(name))
		from = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), port)
	case unix.AF_INET6:
		from = netip.AddrPortFrom(netip.AddrFrom16(name.Addr), port)
		// A link-local source needs its zone to be answered.
		if name.Scope_id != 0 {
			from = netip.AddrPortFrom(from.Addr().WithZone(s.zoneName(name.Scope_id)), port)
		}
	}
	return s.bufs[i][:n], from
}

// zoneName returns the interface name of a scope id, or its number, as the
// net package names zones. Names are cached: looking one up is a netlink
// round trip, too slow for every datagram. Interfaces come and go rarely,
// and a stale name only misroutes replies to a link-local peer.
func (s *batchSource) zoneName(id uint32) string {
	if z, ok := s.zones[id]; ok {
		return z
	}
	z := strconv.FormatUint(uint64(id), 10)
	if ifi, err := net.InterfaceByIndex(int(id)); err == nil {
		z = ifi.Name
	}
	if s.zones == nil || len(s.zones) >= 64 {
		s.zones = make(map[uint32]string)
	}
	s.zones[id] = z
	return z
}
