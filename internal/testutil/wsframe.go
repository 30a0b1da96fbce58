package testutil

// AppendClientFrame appends payload as one masked text frame, as a
// websocket client sends it (RFC 6455 5.2), masked with key. Benchmarks'
// senders write such frames into a buffer of their own: a publisher or an
// agent on another machine, whose writing costs nothing on the analyzer's
// cores (gorilla's client allocates a writer and makes a syscall per
// message).
func AppendClientFrame(dst, payload []byte, key uint32) []byte {
	dst = append(dst, 0x81) // FIN, text
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n < 1<<16:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	mask := [4]byte{byte(key >> 24), byte(key >> 16), byte(key >> 8), byte(key)}
	dst = append(dst, mask[:]...)
	for i, c := range payload {
		dst = append(dst, c^mask[i&3])
	}
	return dst
}
