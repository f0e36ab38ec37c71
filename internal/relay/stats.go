package relay

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/udpchat/udpchat/internal/wire"
)

// DropReason names why the relay threw a message away.
type DropReason int

const (
	DropMalformed                = DropReason(wire.DropMalformed) // did not parse
	DropVersion                  = DropReason(wire.DropVersion)   // unknown protocol version
	DropType                     = DropReason(wire.DropType)      // not a relay message, or one only the relay sends
	DropTooBig                   = DropReason(wire.DropTooBig)    // over wire.MaxRelayMessage
	DropUnregistered  DropReason = iota                           // a request from a key that has not registered (or expired)
	DropRateLimited                                               // over the sender's rate
	DropNoDestination                                             // forward to a key not registered here
	DropQueueFull                                                 // pushed out of a full queue by a newer packet
	DropTableFull                                                 // a registration with MaxClients registered
	DropMailboxFull                                               // a mail put to a full mailbox
	DropStore                                                     // the mailbox store failed
	DropStale                                                     // a queued packet whose client left before it went
	DropMailBusy                                                  // a mailbox request while the store is behind
	DropPeerBusy                                                  // a message for another relay's client while the cluster link is down or behind
	DropPeerMalformed                                             // a message from another relay that did not parse
	DropNotSubscribed                                             // a room post from a client not subscribed to the room
	DropRoomsFull                                                 // a room subscribe from a client with MaxRoomsPerClient rooms
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"malformed", "version", "type", "too_big", "unregistered", "rate_limited", "no_destination",
	"queue_full", "table_full", "mailbox_full", "store", "stale", "mail_busy",
	"peer_busy", "peer_malformed", "not_subscribed", "rooms_full",
}

func (r DropReason) String() string {
	if r < 0 || r >= numDropReasons {
		return "unknown"
	}
	return dropNames[r]
}

// Stats are the relay's counters since it started, and the sizes now.
type Stats struct {
	Clients       int    // registered now
	Registrations uint64 // register messages answered, refreshes included
	Relayed       uint64 // datagrams forwarded by key
	RelayedBytes  uint64 // their bytes, as the sender's session carried them
	Lookups       uint64 // candidate requests: punch attempts
	PunchDirect   uint64 // punch results reported by clients
	PunchFailed   uint64
	MailStored    uint64
	MailSent      uint64 // mails sent to recipients (a mail fetched twice counts twice)
	MailAcked     uint64
	PeerSent      uint64 // messages handed to other relays of the cluster for their clients
	PeerReceived  uint64 // messages from other relays queued for a client here
	Queued        int    // packets waiting in the clients' queues now

	Rooms            int    // rooms with subscribers here now
	RoomPosts        uint64 // room posts taken from clients here
	RoomDelivered    uint64 // room delivers sent to clients here
	RoomPeerSent     uint64 // posts published to the cluster
	RoomPeerReceived uint64 // posts from other relays of the cluster
	Drops            [numDropReasons]uint64
}

// Dropped totals Drops.
func (s Stats) Dropped() uint64 { return wire.Dropped(s.Drops[:]) }

// counters are Stats' counting fields, updated from the reader and the
// writer at once.
type counters struct {
	registrations, relayed, relayedBytes, lookups atomic.Uint64
	punchDirect, punchFailed                      atomic.Uint64
	mailStored, mailSent, mailAcked               atomic.Uint64
	peerSent, peerReceived                        atomic.Uint64
	roomPosts, roomDelivered                      atomic.Uint64
	roomPeerSent, roomPeerReceived                atomic.Uint64
	drops                                         [numDropReasons]atomic.Uint64
}

var (
	descClients       = prometheus.NewDesc("udpchat_relay_clients", "Clients registered now.", nil, nil)
	descRegistrations = prometheus.NewDesc("udpchat_relay_registrations_total", "Registrations answered, refreshes included.", nil, nil)
	descRelayed       = prometheus.NewDesc("udpchat_relay_relayed_datagrams_total", "Datagrams forwarded by key.", nil, nil)
	descRelayedBytes  = prometheus.NewDesc("udpchat_relay_relayed_bytes_total", "Bytes of the datagrams forwarded by key.", nil, nil)
	descPunch         = prometheus.NewDesc("udpchat_relay_punch_attempts_total", "Candidate requests (each one a hole punching attempt).", nil, nil)
	descPunchOutcome  = prometheus.NewDesc("udpchat_relay_punch_outcomes_total", "Hole punching outcomes the clients reported.", []string{"outcome"}, nil)
	descMail          = prometheus.NewDesc("udpchat_relay_mail_total", "Mailbox events.", []string{"event"}, nil)
	descMailboxed     = prometheus.NewDesc("udpchat_relay_mailbox_blobs", "Sealed blobs held for offline recipients now.", nil, nil)
	descPeer          = prometheus.NewDesc("udpchat_relay_cluster_messages_total", "Messages for clients exchanged with the other relays of the cluster.", []string{"direction"}, nil)
	descRooms         = prometheus.NewDesc("udpchat_relay_rooms", "Rooms with subscribers at this relay now.", nil, nil)
	descRoomMsgs      = prometheus.NewDesc("udpchat_relay_room_datagrams_total", "Room fan-out: posts taken from clients, delivers sent to clients, posts published to and received from the cluster.", []string{"event"}, nil)
	descQueued        = prometheus.NewDesc("udpchat_relay_queue_depth", "Packets waiting in the clients' queues now.", nil, nil)
	descDrops         = prometheus.NewDesc("udpchat_relay_drops_total", "Messages thrown away, by reason.", []string{"reason"}, nil)
	descSecureDrops   = prometheus.NewDesc("udpchat_relay_secure_drops_total", "Datagrams the Noise layer threw away (junk, forgeries, replays).", nil, nil)
	descHandshakes    = prometheus.NewDesc("udpchat_relay_handshakes_total", "Noise sessions made with clients.", nil, nil)
)

// collector exports a Server's Stats to Prometheus when scraped, so the
// hot path counts with plain atomics and nothing else.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descClients, descRegistrations, descRelayed, descRelayedBytes, descPunch,
		descPunchOutcome, descMail, descPeer, descRooms, descRoomMsgs, descMailboxed, descQueued, descDrops, descSecureDrops, descHandshakes} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	sec := c.s.conn.Stats()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descClients, float64(st.Clients))
	counter(descRegistrations, st.Registrations)
	counter(descRelayed, st.Relayed)
	counter(descRelayedBytes, st.RelayedBytes)
	counter(descPunch, st.Lookups)
	counter(descPunchOutcome, st.PunchDirect, "direct")
	counter(descPunchOutcome, st.PunchFailed, "failed")
	counter(descMail, st.MailStored, "stored")
	counter(descMail, st.MailSent, "sent")
	counter(descMail, st.MailAcked, "acked")
	counter(descPeer, st.PeerSent, "sent")
	counter(descPeer, st.PeerReceived, "received")
	gauge(descRooms, float64(st.Rooms))
	counter(descRoomMsgs, st.RoomPosts, "posted")
	counter(descRoomMsgs, st.RoomDelivered, "delivered")
	counter(descRoomMsgs, st.RoomPeerSent, "published")
	counter(descRoomMsgs, st.RoomPeerReceived, "received")
	gauge(descQueued, float64(st.Queued))
	for r, n := range st.Drops {
		counter(descDrops, n, DropReason(r).String())
	}
	counter(descSecureDrops, sec.Dropped())
	counter(descHandshakes, sec.HandshakesCompleted)
	if c.s.mail != nil {
		if n, err := c.s.mail.Len(context.Background()); err == nil {
			gauge(descMailboxed, float64(n))
		}
	}
}

// Collector is the relay's Prometheus collector: register it with a
// registry that an HTTP handler serves.
func (s *Server) Collector() prometheus.Collector { return collector{s} }
