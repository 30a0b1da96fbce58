// Package num gives Go numbers one canonical form, so that metadata values
// and query arguments compare alike: signed and small unsigned integers
// become int64, float32 float64, and uint64 values beyond int64 float64.
package num

import "math"

// Canon returns v in canonical form; anything that is not a Go number is
// returned as is.
func Canon(v any) any {
	switch t := v.(type) {
	case int:
		return int64(t)
	case int8:
		return int64(t)
	case int16:
		return int64(t)
	case int32:
		return int64(t)
	case uint:
		return fromUint64(uint64(t))
	case uint8:
		return int64(t)
	case uint16:
		return int64(t)
	case uint32:
		return int64(t)
	case uint64:
		return fromUint64(t)
	case float32:
		return float64(t)
	}
	return v
}

func fromUint64(u uint64) any {
	if u > math.MaxInt64 {
		return float64(u)
	}
	return int64(u)
}
