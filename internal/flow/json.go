package flow

import (
	"encoding/json"
	"io"
	"strconv"
	"strings"
)

// WriteFlowsJSON writes flows as an indented JSON array followed by a
// newline: the very bytes a json.Encoder with SetIndent("", "  ") writes
// for the slice (TestFlowsJSONGolden compares them), in a tenth of its
// time: encoding/json compacts, then re-indents by scanning its output,
// and allocates for each Protocol; `skydive pcap flows` spent more in it
// than in decoding its packets.
func WriteFlowsJSON(w io.Writer, flows []*Flow) error {
	const flushAt = 64 << 10
	jw := jsonWriter{b: make([]byte, 0, flushAt+4<<10)}
	switch {
	case flows == nil:
		_, err := w.Write([]byte("null\n"))
		return err
	case len(flows) == 0:
		_, err := w.Write([]byte("[]\n"))
		return err
	}
	jw.b = append(jw.b, '[')
	jw.depth++
	for i, f := range flows {
		if i > 0 {
			jw.b = append(jw.b, ',')
		}
		jw.newline()
		jw.flow(f)
		if len(jw.b) >= flushAt {
			if _, err := w.Write(jw.b); err != nil {
				return err
			}
			jw.b = jw.b[:0]
		}
	}
	jw.depth--
	jw.newline()
	jw.b = append(jw.b, ']', '\n')
	_, err := w.Write(jw.b)
	return err
}

// jsonWriter appends indented JSON ("  " a level) to b.
type jsonWriter struct {
	b     []byte
	depth int
	n     []int // fields written in each open object
}

func (w *jsonWriter) newline() {
	w.b = append(w.b, '\n')
	for range w.depth {
		w.b = append(w.b, "  "...)
	}
}

func (w *jsonWriter) open() {
	w.b = append(w.b, '{')
	w.depth++
	w.n = append(w.n, 0)
}

// close ends an object; one without fields is "{}", as encoding/json's.
func (w *jsonWriter) close() {
	w.depth--
	n := w.n[len(w.n)-1]
	w.n = w.n[:len(w.n)-1]
	if n > 0 {
		w.newline()
	}
	w.b = append(w.b, '}')
}

// field starts a field; name needs no escaping.
func (w *jsonWriter) field(name string) {
	i := len(w.n) - 1
	if w.n[i] > 0 {
		w.b = append(w.b, ',')
	}
	w.n[i]++
	w.newline()
	w.b = append(w.b, '"')
	w.b = append(w.b, name...)
	w.b = append(w.b, `": `...)
}

func (w *jsonWriter) str(name, v string) {
	w.field(name)
	w.b = appendJSONString(w.b, v)
}

func (w *jsonWriter) strOmit(name, v string) {
	if v != "" {
		w.str(name, v)
	}
}

func (w *jsonWriter) int(name string, v int64) {
	w.field(name)
	w.b = strconv.AppendInt(w.b, v, 10)
}

func (w *jsonWriter) intOmit(name string, v int64) {
	if v != 0 {
		w.int(name, v)
	}
}

func (w *jsonWriter) uintOmit(name string, v uint64) {
	if v != 0 {
		w.field(name)
		w.b = strconv.AppendUint(w.b, v, 10)
	}
}

func (w *jsonWriter) trueOmit(name string, v bool) {
	if v {
		w.field(name)
		w.b = append(w.b, "true"...)
	}
}

// appendJSONString appends s quoted as encoding/json does (HTML characters
// escaped): plain ASCII as it is, anything else through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always marshals
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func (w *jsonWriter) flow(f *Flow) {
	if f == nil {
		w.b = append(w.b, "null"...)
		return
	}
	w.open()
	w.strOmit("UUID", f.UUID)
	w.strOmit("LayersPath", f.LayersPath)
	w.strOmit("Application", f.Application)
	if f.Link != nil {
		w.field("Link")
		w.flowLayer(f.Link)
	}
	if f.Network != nil {
		w.field("Network")
		w.flowLayer(f.Network)
	}
	if l := f.Transport; l != nil {
		w.field("Transport")
		w.open()
		w.str("Protocol", l.Protocol.String())
		w.intOmit("A", l.A)
		w.intOmit("B", l.B)
		w.intOmit("ID", l.ID)
		w.close()
	}
	if l := f.ICMP; l != nil {
		w.field("ICMP")
		w.open()
		w.str("Type", l.Type.String())
		w.uintOmit("Code", uint64(l.Code))
		w.uintOmit("ID", uint64(l.ID))
		w.close()
	}
	if d := f.DHCPv4; d != nil {
		w.field("DHCPv4")
		w.open()
		w.strOmit("File", d.File)
		w.uintOmit("Flags", uint64(d.Flags))
		w.uintOmit("HardwareLen", uint64(d.HardwareLen))
		w.uintOmit("HardwareOpts", uint64(d.HardwareOpts))
		w.strOmit("ServerName", d.ServerName)
		w.uintOmit("Secs", uint64(d.Secs))
		w.close()
	}
	if f.DNS != nil {
		// rare (ExtraDNS) and deep: encoding/json's own, indented at
		// this depth
		w.field("DNS")
		js, _ := json.MarshalIndent(f.DNS, strings.Repeat("  ", w.depth), "  ")
		w.b = append(w.b, js...)
	}
	if v := f.VRRPv2; v != nil {
		w.field("VRRPv2")
		w.open()
		w.uintOmit("AdverInt", uint64(v.AdverInt))
		w.uintOmit("Priority", uint64(v.Priority))
		w.uintOmit("Version", uint64(v.Version))
		w.uintOmit("VirtualRtrID", uint64(v.VirtualRtrID))
		w.close()
	}
	if f.Metric != nil {
		w.field("Metric")
		w.metric(f.Metric)
	}
	if f.LastUpdateMetric != nil {
		w.field("LastUpdateMetric")
		w.metric(f.LastUpdateMetric)
	}
	if m := f.TCPMetric; m != nil {
		w.field("TCPMetric")
		w.open()
		w.intOmit("ABSynStart", m.ABSynStart)
		w.intOmit("BASynStart", m.BASynStart)
		w.uintOmit("ABSynTTL", uint64(m.ABSynTTL))
		w.uintOmit("BASynTTL", uint64(m.BASynTTL))
		w.intOmit("ABFinStart", m.ABFinStart)
		w.intOmit("BAFinStart", m.BAFinStart)
		w.intOmit("ABRstStart", m.ABRstStart)
		w.intOmit("BARstStart", m.BARstStart)
		w.intOmit("ABSegmentOutOfOrder", m.ABSegmentOutOfOrder)
		w.intOmit("ABSegmentSkipped", m.ABSegmentSkipped)
		w.intOmit("ABSegmentSkippedBytes", m.ABSegmentSkippedBytes)
		w.intOmit("ABPackets", m.ABPackets)
		w.intOmit("ABBytes", m.ABBytes)
		w.trueOmit("ABSawStart", m.ABSawStart)
		w.trueOmit("ABSawEnd", m.ABSawEnd)
		w.intOmit("BASegmentOutOfOrder", m.BASegmentOutOfOrder)
		w.intOmit("BASegmentSkipped", m.BASegmentSkipped)
		w.intOmit("BASegmentSkippedBytes", m.BASegmentSkippedBytes)
		w.intOmit("BAPackets", m.BAPackets)
		w.intOmit("BABytes", m.BABytes)
		w.trueOmit("BASawStart", m.BASawStart)
		w.trueOmit("BASawEnd", m.BASawEnd)
		w.close()
	}
	if m := f.IPMetric; m != nil {
		w.field("IPMetric")
		w.open()
		w.int("Fragments", m.Fragments)
		w.int("FragmentErrors", m.FragmentErrors)
		w.close()
	}
	w.int("Start", f.Start)
	w.int("Last", f.Last)
	w.strOmit("TrackingID", f.TrackingID)
	w.strOmit("L3TrackingID", f.L3TrackingID)
	w.str("ParentUUID", f.ParentUUID)
	w.strOmit("NodeTID", f.NodeTID)
	w.strOmit("CaptureID", f.CaptureID)
	w.int("RawPacketsCaptured", f.RawPacketsCaptured)
	w.intOmit("FinishType", int64(f.FinishType))
	w.close()
}

func (w *jsonWriter) flowLayer(l *FlowLayer) {
	w.open()
	w.str("Protocol", l.Protocol.String())
	w.strOmit("A", l.A)
	w.strOmit("B", l.B)
	w.intOmit("ID", l.ID)
	w.close()
}

func (w *jsonWriter) metric(m *Metric) {
	w.open()
	w.int("ABPackets", m.ABPackets)
	w.int("ABBytes", m.ABBytes)
	w.int("BAPackets", m.BAPackets)
	w.int("BABytes", m.BABytes)
	w.int("Start", m.Start)
	w.int("Last", m.Last)
	w.intOmit("RTT", m.RTT)
	w.close()
}
