package replicate

import (
	"encoding/json"
	"reflect"
	"testing"

	v1 "github.com/skydive-ng/skydive/api/v1"
)

var messageSeeds = []string{
	`{"Namespace":"Graph","Type":"NodeAdded","Obj":{"ID":"n1","Metadata":{"Name":"tap1"}}}`,
	`{"Namespace":"Graph","Type":"EdgeAdded","UUID":"u","Status":200,"Obj":{"ID":"e","Parent":"a","Child":"b"}}`,
	` {"Namespace" : "Status", "Type":"ProbeStatus", "Obj" : [1, "x", null] } `,
	`{"Namespace":"Graph","Type":"Sync","Obj":null}`, `{"Namespace":"Graph"}`, `{"namespace":"Graph"}`,
	`{"Namespace":"Gr\u0061ph"}`, `{"Namespace":"Graph","Status":1.5}`, `{"Namespace":"Graph","Obj":}`,
	`{"Namespace":"Graph","Extra":1}`, `{"Namespace":"Graph"} x`, `[]`, `null`, `{"Namespace":null}`,
	`{"Namespace":"Graph","Obj":{"a":1},"Obj":[2]}`, `{"Status":-3}`,
}

// TestFastMessage: an envelope read the fast way is what json.Unmarshal
// reads.
func TestFastMessage(t *testing.T) {
	taken := 0
	for _, s := range messageSeeds {
		if checkFastMessage(t, []byte(s)) {
			taken++
		}
	}
	if taken < 5 {
		t.Errorf("%d seeds taken the fast way", taken)
	}
}

func FuzzFastMessage(f *testing.F) {
	for _, s := range messageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkFastMessage(t, b) })
}

func checkFastMessage(t *testing.T, b []byte) bool {
	fast, ok := fastMessage(b)
	if !ok {
		return false
	}
	var want v1.Message
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatalf("%q: fast %+v, encoding/json refuses: %v", b, fast, err)
	}
	if !reflect.DeepEqual(fast, want) {
		t.Fatalf("%q: fast %+v, encoding/json %+v", b, fast, want)
	}
	return true
}
