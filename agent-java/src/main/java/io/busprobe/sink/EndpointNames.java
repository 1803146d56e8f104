package io.busprobe.sink;

import io.busprobe.endpoint.Endpoint;
import io.busprobe.endpoint.EndpointConfig;

/** Endpoint id to the labels sinks print: name, bus type, direction. */
public final class EndpointNames {
    private static final String[] DIRECTIONS = {"none", "client", "server"};

    private volatile EndpointConfig config;

    public EndpointNames(EndpointConfig config) {
        this.config = config;
    }

    /** After a reload. */
    public void update(EndpointConfig next) {
        this.config = next;
    }

    public String name(int id) {
        return id == Endpoint.OTHER_ID ? "other" : config.byId(id).map(Endpoint::name).orElse("endpoint-" + id);
    }

    public String bus(int id) {
        return id == Endpoint.OTHER_ID ? "other" : config.byId(id).map(e -> e.bus().label()).orElse("other");
    }

    public static String direction(int d) {
        return d >= 0 && d < DIRECTIONS.length ? DIRECTIONS[d] : "none";
    }
}
