package flow

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
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

// TestEntryLayout: an entry is a whole number of cache lines
// whose first three hold what every packet uses.
func TestEntryLayout(t *testing.T) {
	var e entry
	if s := unsafe.Sizeof(e); s%64 != 0 {
		t.Errorf("entry is %d bytes, not a multiple of 64: pad it with %d bytes", s, 64-s%64)
	}
	if end := unsafe.Offsetof(e.hasX) + unsafe.Sizeof(e.hasX); end > 192 {
		t.Errorf("the hot fields end at %d, past 3 cache lines", end)
	}
}

// TestEntryNoPointer: entries and slots hold no pointer, so that the
// collector does not scan them (index).
func TestEntryNoPointer(t *testing.T) {
	var walk func(reflect.Type) bool
	walk = func(ty reflect.Type) bool {
		switch ty.Kind() {
		case reflect.Pointer, reflect.String, reflect.Slice, reflect.Map, reflect.Interface, reflect.Func, reflect.Chan, reflect.UnsafePointer:
			return true
		case reflect.Array:
			return walk(ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				if walk(ty.Field(i).Type) {
					t.Errorf("%s.%s holds a pointer", ty, ty.Field(i).Name)
					return true
				}
			}
		}
		return false
	}
	walk(reflect.TypeFor[entry]())
	walk(reflect.TypeFor[slot]())
}

// TestCompareAddr: compareAddr is netip.Addr.Compare for addresses of one
// family.
func TestCompareAddr(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		var a, b [16]byte
		for i := range a {
			// few values a byte: equal prefixes are frequent
			a[i], b[i] = byte(r.IntN(3)), byte(r.IntN(3))
		}
		pairs := [][2]netip.Addr{
			{netip.AddrFrom16(a), netip.AddrFrom16(b)},
			{netip.AddrFrom4([4]byte(a[:4])), netip.AddrFrom4([4]byte(b[:4]))},
		}
		for _, p := range pairs {
			if got, want := compareAddr(p[0], p[1]), p[0].Compare(p[1]); got != want {
				t.Fatalf("compareAddr(%v, %v) = %d, want %d", p[0], p[1], got, want)
			}
		}
	}
}
