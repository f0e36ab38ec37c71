package relay

// queue is one client's outbound packets: a ring of bounded length that,
// when full, drops its oldest packet to take a new one, as DERP does. A
// slow or unreachable client so costs the relay a fixed amount of memory,
// and what it does get is the newest traffic, which is what a chat retrying
// on its own timers wants.
type queue struct {
	items []outPacket
	head  int
	n     int
}

// outPacket is a relay message waiting to go; the client's session seals
// it on the way out.
type outPacket struct {
	buf     *[]byte // from bufPool
	relayed bool    // a deliver: counted as relayed when it goes
	room    bool    // a room deliver: counted as delivered when it goes
}

func newQueue(size int) queue { return queue{items: make([]outPacket, size)} }

// push adds p, and returns the packet it pushed out to make room, if any.
func (q *queue) push(p outPacket) (dropped outPacket, ok bool) {
	if q.n == len(q.items) {
		dropped, ok = q.pop()
	}
	q.items[(q.head+q.n)%len(q.items)] = p
	q.n++
	return dropped, ok
}

// pop takes the oldest packet.
func (q *queue) pop() (outPacket, bool) {
	if q.n == 0 {
		return outPacket{}, false
	}
	p := q.items[q.head]
	q.items[q.head] = outPacket{}
	q.head = (q.head + 1) % len(q.items)
	q.n--
	return p, true
}

func (q *queue) len() int { return q.n }
