package io.busprobe.sink;

import io.busprobe.endpoint.BusType;
import io.busprobe.endpoint.Direction;
import io.busprobe.endpoint.Endpoint;
import io.busprobe.endpoint.EndpointConfig;

/**
 * Endpoint id to the labels sinks print: name, bus type, direction, spelled as the metrics
 * spell them ({@code other}, {@code none}, {@code none} for traffic of no endpoint).
 */
public final class EndpointNames {
    private volatile EndpointConfig config;

    public EndpointNames(EndpointConfig config) {
        this.config = config;
    }

    /** After a reload. */
    public void update(EndpointConfig next) {
        this.config = next;
    }

    public String name(int id) {
        return id == Endpoint.OTHER_ID ? Endpoint.OTHER_NAME
                : config.byId(id).map(Endpoint::name).orElse("endpoint-" + id);
    }

    /** An id the config no longer has (a record from before a reload) has bus {@code unknown}. */
    public String bus(int id) {
        return BusType.labelOf(id == Endpoint.OTHER_ID ? 0 : config.byId(id).map(e -> e.bus().id()).orElse(-1));
    }

    public static String direction(int d) {
        return Direction.ofId(d).label();
    }
}
