package io.kvtier.cxl;

import io.kvtier.spi.BlockRecord;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The second process of the shared-pool tests: opens the pool, then follows commands, one a line on
 * standard input, answering each on standard output ("ok ..." or "error ...").
 *
 * <ul>
 *   <li>{@code publish FROM TO}: writes and publishes blocks FROM..TO-1
 *   <li>{@code own N}: allocates N pages and writes them without publishing
 *   <li>{@code lease FROM TO}: looks up blocks FROM..TO-1 and keeps the read leases
 *   <li>{@code close}: closes the pool and exits
 * </ul>
 *
 * Arguments: pool path, page bytes, capacity bytes, read lease ms, owner lease ms, host-local.
 */
public final class SharedPoolChild {
  private SharedPoolChild() {}

  public static void main(String[] args) throws Exception {
    Path path = Path.of(args[0]);
    int pageBytes = Integer.parseInt(args[1]);
    long capacity = Long.parseLong(args[2]);
    SharedPoolOptions options =
        SharedPoolOptions.builder()
            .readLease(Duration.ofMillis(Long.parseLong(args[3])))
            .ownerLease(Duration.ofMillis(Long.parseLong(args[4])))
            .hostLocal(Boolean.parseBoolean(args[5]))
            .build();
    var out = System.out;
    try (SharedPool pool = CxlTier.sharedPool("child", path, capacity, options).open(pageBytes)) {
      out.println("ok open " + ProcessHandle.current().pid());
      out.flush();
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      String line;
      while ((line = in.readLine()) != null) {
        String[] cmd = line.trim().split("\\s+");
        try {
          switch (cmd[0]) {
            case "publish" -> {
              StringBuilder slots = new StringBuilder();
              for (int i = Integer.parseInt(cmd[1]); i < Integer.parseInt(cmd[2]); i++) {
                long slot = pool.allocate(-1);
                pool.writeBlock(
                    slot,
                    SharedPoolFixtures.block(i),
                    SharedPoolFixtures.pageSegment(i, pageBytes));
                slots.append(' ').append(slot);
              }
              out.println("ok" + slots);
            }
            case "own" -> {
              StringBuilder slots = new StringBuilder();
              for (int i = 0; i < Integer.parseInt(cmd[1]); i++) {
                long slot = pool.allocate(-1);
                pool.write(slot, SharedPoolFixtures.pageSegment(-1 - i, pageBytes));
                slots.append(' ').append(slot);
              }
              out.println("ok" + slots);
            }
            case "lease" -> {
              StringBuilder slots = new StringBuilder();
              for (int i = Integer.parseInt(cmd[1]); i < Integer.parseInt(cmd[2]); i++) {
                BlockRecord b = SharedPoolFixtures.block(i);
                slots.append(' ').append(pool.lookup(b));
              }
              out.println("ok" + slots);
            }
            case "close" -> {
              out.println("ok close");
              out.flush();
              return;
            }
            default -> out.println("error unknown command " + cmd[0]);
          }
        } catch (RuntimeException e) {
          out.println("error " + e);
        }
        out.flush();
      }
    }
  }
}
