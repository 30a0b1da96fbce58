package ovsdb

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/go-logr/logr"
	"github.com/ovn-org/libovsdb/cache"
	"github.com/ovn-org/libovsdb/client"
	"github.com/ovn-org/libovsdb/model"
)

// Dial connects a libovsdb client of dbm to endpoint (libovsdb's form, see
// Endpoint), within 5 s, and monitors the columns of tables; changed is
// called, from libovsdb's goroutine, on every row change. The OVS and OVN
// probes share it.
func Dial(ctx context.Context, dbm model.ClientDBModel, endpoint string, tables []model.Model, changed func()) (client.Client, error) {
	discard := logr.Discard()
	c, err := client.NewOVSDBClient(dbm, client.WithEndpoint(endpoint), client.WithLogger(&discard))
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err = c.Connect(cctx)
	cancel()
	if err != nil {
		return nil, err
	}
	c.Cache().AddEventHandler(&cache.EventHandlerFuncs{
		AddFunc:    func(string, model.Model) { changed() },
		UpdateFunc: func(string, model.Model, model.Model) { changed() },
		DeleteFunc: func(string, model.Model) { changed() },
	})
	// Only the model's columns: a monitor of every column would send
	// updates of columns the model cannot hold, which the cache rejects.
	var opts []client.MonitorOption
	for _, m := range tables {
		opts = append(opts, client.WithTable(m, ModelColumns(m)...))
	}
	if _, err := c.Monitor(ctx, c.NewMonitor(opts...)); err != nil {
		c.Close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	return c, nil
}

// Alive tells whether the server answers an echo within 2 s: a server that
// died without closing the socket, or a disconnect the library missed,
// shows here.
func Alive(ctx context.Context, c client.Client) error {
	ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return c.Echo(ectx)
}

// ModelColumns lists the fields of a libovsdb model (pointers into m), but
// _uuid, as client.WithTable wants them to monitor only those columns.
func ModelColumns(m model.Model) []any {
	v := reflect.ValueOf(m).Elem()
	var out []any
	for i := 0; i < v.NumField(); i++ {
		if v.Type().Field(i).Tag.Get("ovsdb") != "_uuid" {
			out = append(out, v.Field(i).Addr().Interface())
		}
	}
	return out
}
