package dev.p424.agent;

import static net.bytebuddy.matcher.ElementMatchers.nameMatches;
import static net.bytebuddy.matcher.ElementMatchers.namedOneOf;
import static net.bytebuddy.matcher.ElementMatchers.takesArgument;

import java.lang.instrument.Instrumentation;
import java.net.SocketAddress;
import net.bytebuddy.agent.builder.AgentBuilder;
import net.bytebuddy.asm.Advice;

/**
 * Keeps the gRPC servers a Flink TaskManager starts for PyFlink's Python workers on loopback.
 *
 * <p>In process mode each Python worker, a child process of the TaskManager, talks to it over Beam
 * Fn API gRPC servers (provisioning, control, data, state, logging). Flink's copy of Beam's
 * ServerFactory advertises {@code localhost:<port>} to the worker but builds the server with
 * {@code NettyServerBuilder.forPort(port)}, which listens on every interface; no Flink or JVM option
 * changes that. A gRPC {@code NettyServerBuilder} gets its listen addresses only through
 * {@code forAddress(SocketAddress, ...)} ({@code forPort} calls it) and
 * {@code addListenAddress(SocketAddress)}, so this agent turns a wildcard address given there into
 * the JVM's loopback address (the one ServerFactory advertises), keeping the port. Only Beam's
 * vendored gRPC is touched, whatever its version; other addresses pass unchanged.
 *
 * <p>Usage: {@code -javaagent:grpc-loopback-agent.jar} (no argument).
 */
public final class GrpcLoopbackAgent {
    /** Beam vendors gRPC under a versioned package, e.g. org.apache.beam.vendor.grpc.v1p60p1. */
    static final String VENDORED_NETTY_SERVER_BUILDER =
            "org\\.apache\\.beam\\.vendor\\.grpc\\.[^.]+\\.io\\.grpc\\.netty\\.NettyServerBuilder";

    private GrpcLoopbackAgent() {}

    public static void premain(String argument, Instrumentation instrumentation) {
        new AgentBuilder.Default()
                .disableClassFormatChanges()
                .with(AgentBuilder.Listener.StreamWriting.toSystemError().withErrorsOnly())
                .type(nameMatches(VENDORED_NETTY_SERVER_BUILDER))
                .transform((builder, type, loader, module, domain) -> builder.visit(
                        Advice.to(WildcardToLoopback.class)
                                .on(namedOneOf("forAddress", "addListenAddress")
                                        .and(takesArgument(0, SocketAddress.class)))))
                .installOn(instrumentation);
    }

    /** Inlined at the start of those methods: replaces their address argument. */
    static final class WildcardToLoopback {
        private WildcardToLoopback() {}

        @Advice.OnMethodEnter
        static void enter(@Advice.Argument(value = 0, readOnly = false) SocketAddress address) {
            address = Loopback.instead(address);
        }
    }
}
