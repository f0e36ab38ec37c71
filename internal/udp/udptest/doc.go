// Package udptest holds the test rigs for code above a udp.Conn: an
// in-memory network (MemNetwork) and an impairment wrapper (Impair: loss,
// duplication, reordering, delay, a path MTU) to put between its conns, and
// the check that a conn's per-datagram path allocates nothing.
// Tests and the bench import it; the shipped program never does.
package udptest
