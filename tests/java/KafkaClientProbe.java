// Runs Kafka's own Java client (the one inside the Flink job's KafkaSource) with a properties file
// the platform generates (p424.kafka.auth.java_client), and reports what the broker allowed.
// Usage: java -cp '<kafka libs>/*' KafkaClientProbe.java <properties> consume|produce <topic> [group]
// Prints one line: OK, or DENIED <exception class>: <message>.
import java.io.FileReader;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.errors.AuthenticationException;
import org.apache.kafka.common.errors.AuthorizationException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class KafkaClientProbe {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (FileReader r = new FileReader(args[0])) {
            props.load(r);
        }
        String topic = args[2];
        try {
            if (args[1].equals("consume")) {
                props.put("group.id", args[3]);
                props.put("auto.offset.reset", "earliest");
                try (KafkaConsumer<byte[], byte[]> c =
                        new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
                    c.subscribe(List.of(topic));
                    c.poll(Duration.ofSeconds(10));
                    c.commitSync(Duration.ofSeconds(10));  // as the source commits offsets on checkpoints
                }
            } else {
                props.put("max.block.ms", "10000");
                try (KafkaProducer<byte[], byte[]> p =
                        new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
                    p.send(new ProducerRecord<>(topic, "probe".getBytes())).get();
                }
            }
            System.out.println("OK");
        } catch (AuthenticationException | AuthorizationException e) {
            System.out.println("DENIED " + e.getClass().getSimpleName() + ": " + e.getMessage());
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            boolean denied = cause instanceof AuthenticationException || cause instanceof AuthorizationException;
            System.out.println((denied ? "DENIED " : "ERROR ") + cause.getClass().getSimpleName() + ": " + cause.getMessage());
        }
    }
}
