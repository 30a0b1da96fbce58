package flow

import (
	"testing"
	"unsafe"
)

// TestKeyPacked: the key has no padding (so that the map hashes it as one
// block of memory, see key).
func TestKeyPacked(t *testing.T) {
	var k key
	sum := unsafe.Sizeof(k.parent) + unsafe.Sizeof(k.netA) + unsafe.Sizeof(k.netB) + unsafe.Sizeof(k.tA) +
		unsafe.Sizeof(k.tB) + unsafe.Sizeof(k.app) + unsafe.Sizeof(k.linkA) + unsafe.Sizeof(k.linkB) +
		unsafe.Sizeof(k.netVer) + unsafe.Sizeof(k.hasLink) + unsafe.Sizeof(k.l4) + unsafe.Sizeof(k.hasApp)
	if unsafe.Sizeof(k) != sum {
		t.Fatalf("key is %d bytes, its fields %d: padding", unsafe.Sizeof(k), sum)
	}
}
