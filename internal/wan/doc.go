// Package wan emulates a wide-area link between two network namespaces, at the IP level, so
// that kernel TCP and UDP, the daemon, the native client and Chromium all cross it unchanged.
//
// New creates two named network namespaces (ip netns add), A and B, each holding an up
// loopback and a TUN device "wan0" (MTU 1500, no packet-information header) with a
// point-to-point address: A is 10.77.0.1, B is 10.77.0.2, and each side's default route goes
// through its TUN. The addresses are the same for every Link: each Link's namespaces are private
// to it, so two Links never see each other. The TUN file descriptors are opened from a thread
// that has entered the namespace (setns), and kept by this process; a forwarder per direction
// reads IP packets from the source TUN and writes them to the other one after the impairments
// of its Direction. Nothing leaves the two namespaces.
//
// Per direction, in this order, a packet read from the source TUN is:
//
//  1. dropped if the direction is Down (a link flap);
//  2. dropped with probability Loss, or by the Gilbert–Elliott chain (Burst), whose state is
//     stepped once per packet;
//  3. put through the bottleneck when RateBps is set: a drop-tail FIFO whose capacity is
//     Queue worth of bytes at RateBps (at least one 1500-byte packet); the packet leaves the
//     bottleneck when everything before it has been serialised at len·8/RateBps;
//  4. delayed by Delay plus a uniform random [0, Jitter) and, with probability ReorderProb,
//     by ReorderDelay more. Jitter alone never reorders (a packet is never released before
//     the one read before it); only ReorderProb does, so that both can be tested apart;
//  5. written to the other TUN at its release time, unless the direction went Down while it
//     was in flight (then it is dropped, as on a cut cable).
//
// The bottleneck is a virtual queue: a packet's departure time is computed when it arrives,
// and one goroutine per direction serves a delay line (a heap ordered by release time) with
// a timer. Timer granularity on Linux is well under a millisecond, so millisecond delays are
// accurate; sub-millisecond ones are not. Random choices use math/rand/v2 PCG seeded from
// Config.Seed (one stream per direction), so a run is reproducible for the same packet
// sequence. Parameters can change at any time with SetDirection or SetDown, and Stats reads the
// counters at any time.
//
// Limits: IPv4 only; at most maxInFlight packets wait in a delay line (beyond that they are
// dropped and counted as DroppedOverflow); the process must be root (namespaces and TUN
// devices). The forwarder costs one read and one write per packet in this process: an
// uncapped TCP transfer crossed it at about 900 Mbit/s on a 2-core machine. It runs at the
// process's priority, so a starved process releases packets late (DirectionStats.MaxLate says
// by how much) and the link idles; and packets the kernel drops because the forwarder fell
// behind are counted only by KernelDrops. A read error other than Close (none is expected
// from a TUN device this process owns) stops that direction.
//
// Path describes a symmetric path (RTT, loss, rate, queue) the way benchmarks name one, and
// builds its Config.
//
// Running code inside a namespace: Command starts a program there (ip netns exec). Run runs
// Go code of this process there, on an OS thread locked to the goroutine and moved with setns;
// the thread is thrown away afterwards. The trap: a socket belongs to the namespace of the
// thread that created it, for its whole life. So create listeners and dial connections inside
// the function given to Run, and use them from anywhere afterwards; but a goroutine started
// inside that function runs on another thread, in this process's original namespace, and
// anything it creates (a dial, a listener, a DNS lookup) is created there. Dial IP literals:
// resolving a name may happen on another thread.
package wan
