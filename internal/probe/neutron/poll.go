package neutron

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// refreshEvery is how many polls the networks and subnets are kept before
// being listed again (for renames), unless a port names one not yet known.
const refreshEvery = 12

// api is the probe's Neutron client: keystone or noauth.
type api struct {
	cfg Config
	hc  *http.Client
	sc  *gophercloud.ServiceClient // nil until authenticated
}

func newAPI(cfg Config) *api {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.SSLInsecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the operator's ssl_insecure
	}
	return &api{cfg: cfg, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// where names the server for messages: the neutron endpoint once known,
// keystone before.
func (a *api) where() string {
	if a.sc != nil {
		return strings.TrimSuffix(a.sc.Endpoint, "/")
	}
	if a.cfg.EndpointURL != "" {
		return a.cfg.EndpointURL
	}
	return a.cfg.AuthURL
}

// client returns the network service client, authenticating first with
// keystone when there is no endpoint_url.
func (a *api) client(ctx context.Context) (*gophercloud.ServiceClient, error) {
	if a.sc != nil {
		return a.sc, nil
	}
	if a.cfg.EndpointURL != "" {
		base := strings.TrimSuffix(strings.TrimSuffix(a.cfg.EndpointURL, "/"), "/v2.0") + "/"
		a.sc = &gophercloud.ServiceClient{
			ProviderClient: &gophercloud.ProviderClient{HTTPClient: *a.hc},
			Endpoint:       base,
			ResourceBase:   base + "v2.0/",
			Type:           "network",
		}
		return a.sc, nil
	}
	pc, err := openstack.NewClient(a.cfg.AuthURL)
	if err != nil {
		return nil, fmt.Errorf("keystone client: %w", err)
	}
	pc.HTTPClient = *a.hc
	ao := gophercloud.AuthOptions{
		IdentityEndpoint: a.cfg.AuthURL,
		Username:         a.cfg.Username,
		Password:         a.cfg.Password,
		TenantName:       a.cfg.TenantName,
		DomainName:       a.cfg.DomainName,
		AllowReauth:      true, // tokens expire; the agent runs for months
	}
	if err := openstack.Authenticate(ctx, pc, ao); err != nil {
		return nil, fmt.Errorf("password authentication: %w", err)
	}
	sc, err := openstack.NewNetworkV2(pc, gophercloud.EndpointOpts{
		Region:       a.cfg.RegionName,
		Availability: gophercloud.Availability(a.cfg.EndpointType),
	})
	if err != nil {
		return nil, fmt.Errorf("no %s network endpoint in region %s of keystone's catalog: %w", a.cfg.EndpointType, a.cfg.RegionName, err)
	}
	a.sc = sc
	return sc, nil
}

func (a *api) ports(ctx context.Context, sc *gophercloud.ServiceClient) ([]Port, error) {
	pages, err := ports.List(sc, nil).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list ports: %w", err)
	}
	var out []Port
	if err := ports.ExtractPortsInto(pages, &out); err != nil {
		return nil, fmt.Errorf("decode ports: %w", err)
	}
	return out, nil
}

func (a *api) networks(ctx context.Context, sc *gophercloud.ServiceClient) (map[string]*Network, error) {
	pages, err := networks.List(sc, nil).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list networks: %w", err)
	}
	var list []Network
	if err := networks.ExtractNetworksInto(pages, &list); err != nil {
		return nil, fmt.Errorf("decode networks: %w", err)
	}
	out := make(map[string]*Network, len(list))
	for i := range list {
		out[list[i].ID] = &list[i]
	}
	return out, nil
}

func (a *api) subnets(ctx context.Context, sc *gophercloud.ServiceClient) (map[string]*Subnet, error) {
	pages, err := subnets.List(sc, nil).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list subnets: %w", err)
	}
	list, err := subnets.ExtractSubnets(pages)
	if err != nil {
		return nil, fmt.Errorf("decode subnets: %w", err)
	}
	out := make(map[string]*Subnet, len(list))
	for _, s := range list {
		out[s.ID] = &Subnet{ID: s.ID, CIDR: s.CIDR}
	}
	return out, nil
}

// poll lists Neutron every PollInterval and publishes a catalog after each
// successful poll; failures set the state, logged once until it recovers.
func (p *Probe) poll(ctx context.Context, out chan *Catalog) {
	var (
		nets       map[string]*Network
		subs       map[string]*Subnet
		missingNet = map[string]bool{} // named by ports, absent from the last list
		missingSub = map[string]bool{}
		sinceList  = refreshEvery
		failing    = false
	)
	once := func() error {
		rctx, cancel := context.WithTimeout(ctx, max(p.cfg.PollInterval, 10*time.Second))
		defer cancel()
		sc, err := p.api.client(rctx)
		if err != nil {
			return err
		}
		ps, err := p.api.ports(rctx, sc)
		if err != nil {
			return err
		}
		// Networks and subnets change rarely: listed again only for a port
		// that names an unknown one, or every refreshEvery polls.
		sinceList++
		refresh := sinceList >= refreshEvery
		needNets, needSubs := refresh || nets == nil, refresh || subs == nil
		for _, pt := range ps {
			if _, ok := nets[pt.NetworkID]; !ok && !missingNet[pt.NetworkID] {
				needNets = true
			}
			for _, ip := range pt.FixedIPs {
				if _, ok := subs[ip.SubnetID]; !ok && ip.SubnetID != "" && !missingSub[ip.SubnetID] {
					needSubs = true
				}
			}
		}
		newNets, newSubs := nets, subs
		if needNets {
			if newNets, err = p.api.networks(rctx, sc); err != nil {
				return err
			}
		}
		if needSubs {
			if newSubs, err = p.api.subnets(rctx, sc); err != nil {
				return err
			}
		}
		if refresh {
			sinceList = 0
			clear(missingNet)
			clear(missingSub)
		}
		nets, subs = newNets, newSubs
		// What is still unknown (another project's, or deleted meanwhile)
		// is not asked for again before the next refresh.
		for _, pt := range ps {
			if _, ok := nets[pt.NetworkID]; !ok {
				missingNet[pt.NetworkID] = true
			}
			for _, ip := range pt.FixedIPs {
				if _, ok := subs[ip.SubnetID]; !ok && ip.SubnetID != "" {
					missingSub[ip.SubnetID] = true
				}
			}
		}
		cat := NewCatalog(ps, nets, subs)
		select { // the newest catalog replaces one not read yet
		case <-out:
		default:
		}
		out <- cat
		return nil
	}
	tick := time.NewTicker(p.cfg.PollInterval)
	defer tick.Stop()
	for {
		err := once()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			state := p.describe(err)
			if !failing {
				p.log.Warn("Neutron not available, keeping the last known ports; retrying every poll", "state", state)
				failing = true
			} else {
				p.log.Debug("Neutron still not available", "state", state)
			}
			p.state.Set(state)
		default:
			if failing {
				p.log.Info("Neutron available again", "endpoint", p.api.where())
				failing = false
			}
			p.state.Set("running")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// describe turns a poll error into the State text: who failed (keystone
// until it gave the neutron endpoint), where, and why.
func (p *Probe) describe(err error) string {
	who := "neutron"
	if p.api.sc == nil && p.cfg.EndpointURL == "" {
		who = "keystone"
	}
	var ue *url.Error
	var ne net.Error
	if errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("error: %s unreachable at %s: %v", who, p.api.where(), err)
	}
	return fmt.Sprintf("error: %s at %s: %v", who, p.api.where(), err)
}
