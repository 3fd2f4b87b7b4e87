package dev.p424.agent;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * Where a wildcard server socket goes instead. Public: the agent's advice is inlined into gRPC's
 * classes, which call this from another package.
 */
public final class Loopback {
    private Loopback() {}

    /** The loopback address with the requested port if {@code requested} is a wildcard address, else it. */
    public static SocketAddress instead(SocketAddress requested) {
        if (!(requested instanceof InetSocketAddress)) {
            return requested;
        }
        InetSocketAddress socket = (InetSocketAddress) requested;
        if (socket.isUnresolved() || !socket.getAddress().isAnyLocalAddress()) {
            return requested;
        }
        InetAddress loopback = InetAddress.getLoopbackAddress();
        // One line per server on the TaskManager's stderr (a few per Python worker started).
        System.err.println("grpc-loopback-agent: gRPC server on port " + socket.getPort() + " bound to "
                + loopback.getHostAddress() + " instead of " + socket.getAddress().getHostAddress());
        return new InetSocketAddress(loopback, socket.getPort());
    }
}
