// Package relaycluster joins udpchat relays into a cluster over NATS
// (docs/PROTOCOL.md RL8, docs/RELAY-CLUSTER.md): they share one registry of
// which relay each client key registered at last, hand each other messages
// for their clients, and keep the mailboxes in one JetStream stream, so that
// a client registered at one relay reaches a person registered at another
// and any relay delivers the mail another took.
//
// The registry is a JetStream key-value bucket whose entries live as long as
// a registration (the bucket's TTL); each relay watches it and keeps a copy
// in memory, so the relay's hot path asks nothing of NATS. What one relay
// sends another goes on core NATS, to the subject of the other relay, at most
// once: the chat above retries, as it does over UDP.
package relaycluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
)

// The names the cluster uses in NATS.
const (
	// RegistryBucket is the key-value bucket of registrations: key, a
	// client's public key in hex; value, an entry (encodeEntry).
	RegistryBucket = "udpchat_registry"
	// relaySubjectPrefix and a relay's id make the subject it takes peer
	// messages on.
	relaySubjectPrefix = "udpchat.relay."
	// registrySubjectPrefix is where JetStream takes puts of
	// RegistryBucket's keys ($KV.<bucket>.<key>).
	registrySubjectPrefix = "$KV." + RegistryBucket + "."
)

// Config sets up a Cluster. Conn and TTL are required.
type Config struct {
	// Conn is the relay's connection to NATS. The Cluster does not close
	// it.
	Conn *nats.Conn
	// TTL is how long a registration lasts without a refresh: the relay's
	// (relay.Config.TTL).
	TTL time.Duration
	// Replicas is how many NATS servers hold the registry. Default 1; 3 in
	// a cluster of three or more, so that losing one loses nothing.
	Replicas int
	// Queue bounds the messages waiting to go to NATS; more are dropped
	// (Send says false, and the relay counts it). Default 4096.
	Queue int
	// Logger receives the cluster's events. Nil discards.
	Logger *slog.Logger
}

// Cluster is one relay's membership of a cluster: a relay.Cluster.
type Cluster struct {
	cfg Config
	id  string
	js  jetstream.JetStream
	kv  jetstream.KeyValue
	log *slog.Logger

	mu  sync.RWMutex
	reg map[keys.PublicKey]entry

	// relay takes the messages that come for this relay (set by Run).
	relay atomic.Pointer[Relay]
	// rooms are this relay's subscriptions to rooms' subjects.
	roomsMu sync.Mutex
	rooms   map[relay.RoomID]*nats.Subscription

	out       chan outMsg
	announced atomic.Uint64 // registrations sent to the registry
	failed    atomic.Uint64 // registrations the registry did not take, or not sent for a full queue
}

// outMsg is something to publish.
type outMsg struct {
	subject  string
	data     []byte
	registry bool // a put in the registry, which JetStream acknowledges
	room     bool // a room post, which carries its origin
}

var _ relay.Cluster = (*Cluster)(nil)

// Join makes (or binds) the registry bucket and names this relay with a
// random id of its own: a restarted relay is a new member, and the entries
// of its last life expire. Run serves it. It tries until ctx ends (retry),
// so that the relays of a new cluster may start with their NATS servers,
// at the same moment.
func Join(ctx context.Context, cfg Config) (*Cluster, error) {
	if cfg.Conn == nil || cfg.TTL <= 0 {
		return nil, errors.New("relaycluster: a NATS connection and a positive TTL are required")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = 1
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4096
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Cluster{
		cfg:   cfg,
		log:   cfg.Logger,
		reg:   make(map[keys.PublicKey]entry),
		rooms: make(map[relay.RoomID]*nats.Subscription),
		out:   make(chan outMsg, cfg.Queue),
	}
	var idb [8]byte
	rand.Read(idb[:])
	c.id = hex.EncodeToString(idb[:])
	js, err := jetstream.New(cfg.Conn,
		jetstream.WithPublishAsyncMaxPending(cfg.Queue),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, _ *nats.Msg, err error) {
			c.failed.Add(1)
			c.log.Debug("relay cluster: registry put", "err", err)
		}))
	if err != nil {
		return nil, fmt.Errorf("relaycluster: %w", err)
	}
	c.js = js
	kvCfg := jetstream.KeyValueConfig{
		Bucket:      RegistryBucket,
		Description: "udpchat relay registrations: which relay each key registered at last",
		History:     1,
		TTL:         cfg.TTL,
		Storage:     jetstream.MemoryStorage, // it lasts one TTL: a refresh makes it again
		Replicas:    cfg.Replicas,
	}
	err = retry(ctx, createAttempt, transient, func(ctx context.Context) (err error) {
		c.kv, err = js.CreateOrUpdateKeyValue(ctx, kvCfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("relaycluster: registry bucket: %w", err)
	}
	return c, nil
}

// ID is this relay's name in the cluster.
func (c *Cluster) ID() string { return c.id }

// Run serves the cluster until ctx ends: it hands the peer messages for
// this relay's clients and the posts to rooms it joined to r, keeps the
// copy of the registry, and publishes what the relay sends. It returns nil
// when ctx ends, or an error if it cannot subscribe or watch, or the watch
// ends.
func (c *Cluster) Run(ctx context.Context, r Relay) error {
	c.relay.Store(&r)
	defer c.relay.Store(nil)
	sub, err := c.cfg.Conn.Subscribe(relaySubjectPrefix+c.id, func(m *nats.Msg) { r.FromCluster(m.Data) })
	if err != nil {
		return fmt.Errorf("relaycluster: subscribe: %w", err)
	}
	defer sub.Unsubscribe()
	w, err := c.kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("relaycluster: watch the registry: %w", err)
	}
	defer w.Stop()
	c.log.Info("relay cluster joined", "id", c.id)
	var wg sync.WaitGroup
	defer wg.Wait()
	// publish has a context of its own, not one that shadows ctx: when ctx
	// ends, the watch's updates may close before ctx's end has reached a
	// context made from it, and the check below must see ctx itself.
	pctx, cancel := context.WithCancel(ctx)
	defer cancel() // before the Wait: publish returns
	wg.Go(func() { c.publish(pctx) })
	prune := time.NewTicker(c.cfg.TTL)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil { // ctx's end closes the watch
					return nil
				}
				return errors.New("relaycluster: the registry's watch ended")
			}
			if e != nil { // nil: the bucket's values so far have all come
				c.learn(e, time.Now())
			}
		case now := <-prune.C:
			c.prune(now)
		}
	}
}

// publish sends what Send and Announce queued until ctx ends.
func (c *Cluster) publish(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-c.out:
			if m.registry {
				if _, err := c.js.PublishAsync(m.subject, m.data); err != nil {
					c.failed.Add(1)
					c.log.Debug("relay cluster: registry put", "err", err)
				} else {
					c.announced.Add(1)
				}
				continue
			}
			msg := &nats.Msg{Subject: m.subject, Data: m.data}
			if m.room {
				msg.Header = nats.Header{originHeader: []string{c.id}}
			}
			if err := c.cfg.Conn.PublishMsg(msg); err != nil {
				c.log.Debug("relay cluster: publish", "err", err)
			}
		}
	}
}

// learn takes an update of the registry. Its time is when it came, not
// when NATS stored it, so that the relays' clocks need not agree.
func (c *Cluster) learn(e jetstream.KeyValueEntry, now time.Time) {
	key, err := keyOf(e.Key())
	if err != nil {
		c.log.Debug("relay cluster: a registry key that is not a client's", "key", e.Key())
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		c.mu.Lock()
		delete(c.reg, key)
		c.mu.Unlock()
		return
	}
	ent, err := decodeEntry(e.Value())
	if err != nil {
		c.log.Debug("relay cluster: a registry entry that does not parse", "key", e.Key(), "err", err)
		return
	}
	ent.at = now
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur, ok := c.reg[key]; ok && cur.relay != ent.relay && ent.since.Before(cur.since) && now.Sub(cur.at) <= c.cfg.TTL {
		return // a registration older than the one we know: the key moved on since
	}
	c.reg[key] = ent
}

// prune forgets the entries that have expired.
func (c *Cluster) prune(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.reg {
		if now.Sub(e.at) > c.cfg.TTL {
			delete(c.reg, k)
		}
	}
}

// Announce records key as registered here, at once in the relay's own copy
// (so that its next lookup finds it here, not where it was) and then in the
// shared registry.
func (c *Cluster) Announce(key keys.PublicKey, candidates []netip.AddrPort) {
	now := time.Now()
	// since as the entry carries it, to the millisecond, so that this
	// relay compares its own with others' as they do.
	ent := entry{relay: c.id, candidates: slices.Clone(candidates), since: time.UnixMilli(now.UnixMilli()), at: now}
	b, err := encodeEntry(ent)
	if err != nil { // the relay's own candidates always encode
		c.log.Error("relay cluster: cannot encode an entry", "err", err)
		return
	}
	c.mu.Lock()
	c.reg[key] = ent
	c.mu.Unlock()
	if !c.enqueue(outMsg{subject: registrySubjectPrefix + hex.EncodeToString(key[:]), data: b, registry: true}) {
		c.failed.Add(1) // the next refresh tries again
	}
}

// Locate says which other relay key registered at last, if not longer
// than a TTL ago.
func (c *Cluster) Locate(key keys.PublicKey) (relay.Remote, bool) {
	c.mu.RLock()
	e, ok := c.reg[key]
	c.mu.RUnlock()
	if !ok || e.relay == c.id || time.Since(e.at) > c.cfg.TTL {
		return relay.Remote{}, false
	}
	return relay.Remote{Relay: e.relay, Candidates: slices.Clone(e.candidates)}, true
}

// Send queues msg for relay's subject, or says false when the queue is
// full.
func (c *Cluster) Send(relay string, msg []byte) bool {
	return c.enqueue(outMsg{subject: relaySubjectPrefix + relay, data: slices.Clone(msg)})
}

func (c *Cluster) enqueue(m outMsg) bool {
	select {
	case c.out <- m:
		return true
	default:
		return false
	}
}

// keyOf is the client key a registry key names.
func keyOf(s string) (keys.PublicKey, error) {
	var k keys.PublicKey
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) {
		return k, fmt.Errorf("relaycluster: registry key %q is not a key", s)
	}
	copy(k[:], b)
	return k, nil
}

var (
	descRegistryPuts = prometheus.NewDesc("udpchat_relay_registry_puts_total",
		"Registrations sent to the cluster's registry, and those it did not take or that found the queue to NATS full.", []string{"result"}, nil)
	descRegistryKeys = prometheus.NewDesc("udpchat_relay_registry_keys",
		"Keys registered at any relay of the cluster, as this relay's copy of the registry holds them now.", nil, nil)
	descNATSConnected = prometheus.NewDesc("udpchat_relay_nats_connected",
		"1 while the relay is connected to NATS, else 0.", nil, nil)
)

type collector struct{ c *Cluster }

func (col collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRegistryPuts
	ch <- descRegistryKeys
	ch <- descNATSConnected
}

func (col collector) Collect(ch chan<- prometheus.Metric) {
	c := col.c
	ch <- prometheus.MustNewConstMetric(descRegistryPuts, prometheus.CounterValue, float64(c.announced.Load()), "sent")
	ch <- prometheus.MustNewConstMetric(descRegistryPuts, prometheus.CounterValue, float64(c.failed.Load()), "failed")
	c.mu.RLock()
	n := len(c.reg)
	c.mu.RUnlock()
	ch <- prometheus.MustNewConstMetric(descRegistryKeys, prometheus.GaugeValue, float64(n))
	connected := 0.0
	if c.cfg.Conn.IsConnected() {
		connected = 1
	}
	ch <- prometheus.MustNewConstMetric(descNATSConnected, prometheus.GaugeValue, connected)
}

// Collector exports the cluster's health to Prometheus, beside the relay's
// own (relay.Server.Collector).
func (c *Cluster) Collector() prometheus.Collector { return collector{c} }
