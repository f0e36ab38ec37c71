package main

import (
	"net"
	"slices"
	"testing"
)

// udpchat send with the default --listen reaches a peer on IPv6: it used to
// listen on 0.0.0.0, wait its whole --timeout and ask whether udpchat was
// running there.
func TestSendToIPv6PeerFromDefaultListen(t *testing.T) {
	bob := udpchat(t, "-l", "[::1]:0", "-n", "bob")
	bobAddr := bob.listening(t)
	send := udpchat(t, "send", "-p", bobAddr, "-n", "alice", "hi over IPv6")
	if code := send.exit(t); code != 0 {
		t.Errorf("send exited %d, want 0; stderr:\n%s", code, send.stderr)
	}
	if got := bob.stdout.lines(); !slices.Equal(got, []string{"alice: hi over IPv6"}) {
		t.Errorf("bob's stdout %q", got)
	}
	bob.wantExit(t, 0)
}

// A chat on every address answers from the address it was contacted at:
// one on 0.0.0.0 contacted at 127.0.0.2 answered from 127.0.0.1, the sender
// dropped the answers as from a stranger and sent again until its timeout.
func TestWildcardListenAnswersFromContactedAddress(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", "[::]:0"} {
		t.Run(listen, func(t *testing.T) {
			bob := udpchat(t, "-l", listen, "-n", "bob", "--no-discovery") // no beacons on the host's network
			_, port, err := net.SplitHostPort(bob.listening(t))
			if err != nil {
				t.Fatal(err)
			}
			send := udpchat(t, "send", "-l", "127.0.0.1:0", "-p", "127.0.0.2:"+port, "-n", "alice", "--timeout", "5s", "hi at .2")
			if code := send.exit(t); code != 0 {
				t.Errorf("send exited %d, want 0; stderr:\n%s", code, send.stderr)
			}
			if got := bob.stdout.lines(); !slices.Equal(got, []string{"alice: hi at .2"}) {
				t.Errorf("bob's stdout %q", got)
			}
			bob.wantExit(t, 0)
		})
	}
}
