// The globals a workflow finds besides the ones implemented in Go
// (Gremlin, request, sleep, setTimeout/clearTimeout,
// setInterval/clearInterval): console, the predicates and Metadata() of
// the query language, the Capture and PacketInjection constructors and the
// original's `client` object.
(function (global, log) {
  "use strict";

  function show(v) {
    if (typeof v === "string") return v;
    if (v instanceof Error) return String(v);
    try {
      var s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch (e) {
      return String(v);
    }
  }
  function logger(level) {
    return function () {
      log(level, Array.prototype.map.call(arguments, show).join(" "));
    };
  }
  global.console = { log: logger("info"), info: logger("info"), debug: logger("debug"),
    warn: logger("warn"), error: logger("error") };

  // A fragment of query text, such as Metadata('Name', 'eth0') or NE(1500).
  function Fragment(text) { this.gremlin = text; }
  Fragment.prototype.toString = function () { return this.gremlin; };

  function quote(s) {
    return s.indexOf("'") < 0 ? "'" + s + "'" : '"' + s + '"';
  }
  function arg(a) {
    if (a instanceof Fragment) return a.gremlin;
    if (typeof a === "string") return quote(a);
    if (typeof a === "boolean") return a ? "true" : "false";
    if (typeof a === "number") return String(a);
    throw new TypeError("a query argument must be a string, a number, a boolean or a predicate, not " + show(a));
  }
  function call(name, args) {
    return name + "(" + Array.prototype.map.call(args, arg).join(", ") + ")";
  }
  function fragment(name) {
    return function () { return new Fragment(call(name, arguments)); };
  }
  global.Metadata = fragment("Metadata");
  ["NE", "NEE", "LT", "GT", "LTE", "GTE", "INSIDE", "OUTSIDE", "BETWEEN", "WITHIN", "WITHOUT",
    "REGEX", "IPV4RANGE", "IPRANGE"].forEach(function (p) { global[p] = fragment(p); });
  global.NOW = new Fragment("NOW");
  global.FOREVER = new Fragment("FOREVER");
  global.ASC = new Fragment("ASC");
  global.DESC = new Fragment("DESC");

  // A query being built: every method adds a step; result() runs it and
  // answers the parsed JSON; then() makes it a thenable, so that it can be
  // returned from a promise chain as the original's client.G.V()... was.
  function query(text) {
    return new Proxy(function () {}, {
      get: function (target, name) {
        if (typeof name !== "string") return undefined;
        switch (name) {
          case "result":
            return function () { return JSON.parse(Gremlin(text)); };
          case "then":
            return function (ok, ko) {
              var p;
              try { p = Promise.resolve(JSON.parse(Gremlin(text))); } catch (e) { p = Promise.reject(e); }
              return p.then(ok, ko);
            };
          case "query": case "toString":
            return function () { return text; };
        }
        return function () { return query(text + "." + call(name, arguments)); };
      },
    });
  }

  function rest(path) {
    function run(method, url, body) {
      try {
        var out = request(url, method, body === undefined ? "" : JSON.stringify(body));
        return Promise.resolve(out === "" ? undefined : JSON.parse(out));
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return {
      list: function () { return run("GET", path); },
      get: function (id) { return run("GET", path + "/" + id); },
      create: function (obj) { return run("POST", path, obj); },
      delete: function (id) { return run("DELETE", path + "/" + id); },
    };
  }

  global.Capture = function Capture(gremlinQuery, bpfFilter) {
    if (gremlinQuery !== undefined) this.GremlinQuery = gremlinQuery;
    if (bpfFilter !== undefined) this.BPFFilter = bpfFilter;
  };
  global.PacketInjection = function PacketInjection() {};
  global.Alert = function Alert() {};
  global.EdgeRule = function EdgeRule() {};
  global.NodeRule = function NodeRule() {};

  var client = {
    gremlin: {
      G: function () { return query("G"); },
      query: function (text) { return JSON.parse(Gremlin(text)); },
    },
    captures: rest("/api/capture"),
    packetInjections: rest("/api/injectpacket"),
    workflows: rest("/api/workflow"),
    alerts: rest("/api/alert"),
    nodeRules: rest("/api/noderule"),
    edgeRules: rest("/api/edgerule"),
  };
  Object.defineProperty(client, "G", { get: function () { return query("G"); } });
  global.client = client;
})(this, _log);
