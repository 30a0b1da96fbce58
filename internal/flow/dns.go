package flow

import (
	"github.com/gopacket/gopacket/layers"
)

// dnsFromLayer converts a decoded DNS message (ExtraDNS). It allocates and
// is only used when DNS extra layers are enabled.
func dnsFromLayer(d *layers.DNS, tsMs int64) *DNS {
	out := &DNS{
		ID:           d.ID,
		QR:           d.QR,
		OpCode:       d.OpCode.String(),
		AA:           d.AA,
		TC:           d.TC,
		RD:           d.RD,
		RA:           d.RA,
		Z:            d.Z,
		ResponseCode: d.ResponseCode.String(),
		QDCount:      d.QDCount,
		ANCount:      d.ANCount,
		NSCount:      d.NSCount,
		ARCount:      d.ARCount,
		Timestamp:    tsMs,
	}
	for _, q := range d.Questions {
		out.Questions = append(out.Questions, DNSQuestion{Name: string(q.Name), Type: q.Type.String(), Class: q.Class.String()})
	}
	out.Answers = dnsRecords(d.Answers)
	out.Authorities = dnsRecords(d.Authorities)
	out.Additionals = dnsRecords(d.Additionals)
	return out
}

func dnsRecords(rrs []layers.DNSResourceRecord) []DNSResourceRecord {
	var out []DNSResourceRecord
	for i := range rrs {
		rr := &rrs[i]
		r := DNSResourceRecord{
			Name:       string(rr.Name),
			Type:       rr.Type.String(),
			Class:      rr.Class.String(),
			TTL:        rr.TTL,
			DataLength: rr.DataLength,
		}
		switch rr.Type {
		case layers.DNSTypeA, layers.DNSTypeAAAA:
			r.IP = rr.IP.String()
		case layers.DNSTypeSOA:
			r.SOA = &DNSSOA{MName: string(rr.SOA.MName), RName: string(rr.SOA.RName), Serial: rr.SOA.Serial,
				Refresh: rr.SOA.Refresh, Retry: rr.SOA.Retry, Expire: rr.SOA.Expire, Minimum: rr.SOA.Minimum}
		case layers.DNSTypeSRV:
			r.SRV = &DNSSRV{Priority: rr.SRV.Priority, Weight: rr.SRV.Weight, Port: rr.SRV.Port, Name: string(rr.SRV.Name)}
		case layers.DNSTypeMX:
			r.MX = &DNSMX{Preference: rr.MX.Preference, Name: string(rr.MX.Name)}
		case layers.DNSTypeTXT, layers.DNSTypeHINFO:
			for _, t := range rr.TXTs {
				r.TXTs = append(r.TXTs, string(t))
			}
		case layers.DNSTypeNS:
			r.NS = string(rr.NS)
		case layers.DNSTypeCNAME:
			r.CNAME = string(rr.CNAME)
		case layers.DNSTypePTR:
			r.PTR = string(rr.PTR)
		case layers.DNSTypeOPT:
			for _, o := range rr.OPT {
				r.OPT = append(r.OPT, &DNSOPT{Code: o.Code.String(), Data: string(o.Data)})
			}
		default:
			continue // the original keeps only the record types above
		}
		out = append(out, r)
	}
	return out
}
