package main

import (
	"context"
	"net/netip"
	"time"

	"github.com/udpchat/udpchat/internal/chat"
	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/relay"
	"github.com/udpchat/udpchat/internal/wire"
)

// Offline mailboxes (with --relay): a message that waited holdAfter for a
// person who is not in session is sealed for them (relay.SealMail: the
// relay cannot read it) and left in their mailbox at the relay; the outbox
// marks it held. When they next register they fetch it, store it as a
// message from us (dropping a copy they have), and mail us a receipt,
// which our node, now or at its next start, takes as delivery. A mail is
// acknowledged to the relay only once stored, so a crash between the two
// gets it again.

const (
	// holdAfter is how long a message waits for its person before it goes
	// to their mailbox: a session that comes up delivers it sooner.
	holdAfter = 3 * time.Second
	// holdEvery is how often the outbox is looked at for such messages.
	holdEvery = time.Second
	// mailTimeout bounds one mail put (its resends included).
	mailTimeout = 5 * time.Second
	// mailQueue bounds the mail fetched and not yet taken by the node.
	mailQueue = 4 * relay.MailPerFetch
)

// CheckMailName implements chat.MailCheck: a name in mail belongs to the
// first key that used it, as in a session; key is the one that sealed it.
func (e *encryption) CheckMailName(peer netip.AddrPort, key [32]byte, name string) error {
	return e.known.Admit(peer, keys.PublicKey(key), name)
}

// onMail is the relay client's OnMail: the mail waits for runMail.
func (r *relayPath) onMail(m relay.Mail) { r.mail <- m }

// runMail hands node's messages for people out of reach to their
// mailboxes, and takes our mail, sealed for key, until ctx ends.
func (r *relayPath) runMail(ctx context.Context, node *chat.Node, key keys.PrivateKey) {
	t := time.NewTicker(holdEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-r.mail:
			r.takeMail(ctx, node, key, m)
		case <-t.C:
			for _, m := range node.ToHold(holdAfter) {
				r.hold(ctx, node, key, m)
			}
		}
	}
}

// hold leaves m in its person's mailbox and marks it held.
func (r *relayPath) hold(ctx context.Context, node *chat.Node, key keys.PrivateKey, m chat.Mail) {
	blob, err := relay.SealMail(key, keys.PublicKey(m.Person), m.Payload)
	if err != nil {
		r.log.Debug("mailbox: too large for mail; it waits for a session", "id", m.ID, "err", err)
		return
	}
	status, err := r.put(ctx, keys.PublicKey(m.Person), blob)
	if err != nil || status != wire.MailStored {
		r.log.Debug("mailbox: not held by the relay", "id", m.ID, "status", status, "err", err)
		return
	}
	r.log.Debug("mailbox: held by the relay", "id", m.ID, "to", keys.PublicKey(m.Person).Fingerprint())
	if err := node.MarkHeld(m); err != nil {
		r.log.Warn("mailbox: " + err.Error())
	}
}

func (r *relayPath) put(ctx context.Context, to keys.PublicKey, blob []byte) (uint8, error) {
	ctx, cancel := context.WithTimeout(ctx, mailTimeout)
	defer cancel()
	return r.client.PutMail(ctx, to, blob)
}

// takeMail opens m, gives it to node as from its sender's relay handle,
// sends the sender the receipt node answers with, and acknowledges m to
// the relay. Mail that does not open for us is acknowledged and dropped:
// it never will.
func (r *relayPath) takeMail(ctx context.Context, node *chat.Node, key keys.PrivateKey, m relay.Mail) {
	from, msg, err := relay.OpenMail(key, m.Blob)
	if err == nil {
		r.log.Debug("mailbox: mail", "from", from.Fingerprint(), "receipt", wire.IsMailReceipt(msg))
		r.introduce(from)
		var receipt []byte
		receipt, err = node.ReceiveMail(relayHandle(from), from, msg)
		if err != nil {
			r.log.Debug("mailbox: mail not stored; it comes again", "from", from.Fingerprint(), "err", err)
			return // not acknowledged
		}
		if receipt != nil {
			if blob, err := relay.SealMail(key, from, receipt); err == nil {
				if status, err := r.put(ctx, from, blob); err != nil || status != wire.MailStored {
					r.log.Debug("mailbox: receipt not held by the relay", "to", from.Fingerprint(), "status", status, "err", err)
				}
			}
		}
	}
	if err != nil {
		r.log.Debug("mailbox: mail dropped", "err", err)
	}
	if err := r.client.Ack(m.ID); err != nil {
		r.log.Debug("mailbox: ack", "err", err)
	}
}
