package num

import (
	"math"
	"testing"
)

func TestCanon(t *testing.T) {
	for _, tc := range []struct {
		in, want any
	}{
		{int(-3), int64(-3)},
		{int8(-3), int64(-3)},
		{int16(7), int64(7)},
		{int32(7), int64(7)},
		{int64(7), int64(7)},
		{uint(7), int64(7)},
		{uint8(255), int64(255)},
		{uint16(65535), int64(65535)},
		{uint32(math.MaxUint32), int64(math.MaxUint32)},
		{uint64(math.MaxInt64), int64(math.MaxInt64)},
		{uint64(math.MaxUint64), float64(math.MaxUint64)},
		{float32(1.5), float64(1.5)},
		{"7", "7"},
		{nil, nil},
	} {
		if got := Canon(tc.in); got != tc.want {
			t.Errorf("Canon(%T %v) = %T %v, want %T %v", tc.in, tc.in, got, got, tc.want, tc.want)
		}
	}
}
