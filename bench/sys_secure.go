package main

import (
	"sync"

	"github.com/udpchat/udpchat/internal/keys"
	"github.com/udpchat/udpchat/internal/secure"
	"github.com/udpchat/udpchat/internal/udp"
)

var (
	secureKeysOnce sync.Once
	secureKeys     [2]keys.PrivateKey
	secureKeysErr  error
)

// secureWrapper puts internal/secure between the transport and its socket:
// udpchat-encrypted. Each side has its identity key, made once per process
// (identity keys are long-lived: making one is not part of a handshake).
// No KnownKey, so sessions open with Noise XX; Verify nil trusts every key.
func secureWrapper() connWrapper {
	return connWrapper{
		maxPacket: secure.MaxPacket,
		wrap: func(c udp.Conn, side int) (udp.Conn, error) {
			secureKeysOnce.Do(func() {
				for i := range secureKeys {
					if secureKeys[i], secureKeysErr = keys.GenerateKey(); secureKeysErr != nil {
						return
					}
				}
			})
			if secureKeysErr != nil {
				return nil, secureKeysErr
			}
			return secure.NewConn(c, secure.Config{Static: secureKeys[side]})
		},
	}
}
