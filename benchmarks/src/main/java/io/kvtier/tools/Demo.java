package io.kvtier.tools;

import io.kvtier.CacheStats;
import io.kvtier.DType;
import io.kvtier.DramTier;
import io.kvtier.KvCache;
import io.kvtier.KvLayout;
import io.kvtier.Lease;
import io.kvtier.Namespace;
import io.kvtier.OutOfPagesException;
import io.kvtier.PauseKind;
import io.kvtier.Request;
import io.kvtier.Session;
import io.kvtier.TierStats;
import io.kvtier.Warmth;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Locale;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * {@code kvtier demo}: a small engine loop over one DRAM tier, driving the cache the way a serving
 * engine would for agent sessions, and printing what it reused.
 *
 * <p>Workload: every session starts with the same system prompt plus its own task, then runs its
 * turns. Each turn sends the whole context so far ({@code acquire} → {@code cachedTokens} → {@code
 * extend} for the uncached rest → {@code extend} with the generated tokens → {@code commit} →
 * close). Between turns a session either waits for a tool call (70%: it calls {@link Session#pause}
 * with {@link PauseKind#TOOL} and an estimate of 9 s, which the default retention policy turns into
 * a pin) or for its user (30%: {@link PauseKind#HUMAN}, no pin). Sessions start staggered so that
 * about three run at a time, and the tier is sized to hold about three sessions, so finished and
 * long-paused sessions are evicted.
 *
 * <p>Time is simulated: the cache gets a ticker that jumps from one event to the next, so pins
 * expire on the simulated clock and the run takes well under a second. Everything is determined by
 * the seed.
 */
final class Demo {

  static final KvLayout LAYOUT = KvLayout.of(4, 2, 64, DType.BF16, 16);
  static final Namespace NAMESPACE = Namespace.of("demo-agent", LAYOUT);

  private static final int VOCABULARY = 32_000;
  private static final int SYSTEM_PROMPT_TOKENS = 512;
  private static final int TASK_MIN = 64;
  private static final int TASK_MAX = 192;
  private static final int TOOL_OUTPUT_MIN = 64;
  private static final int TOOL_OUTPUT_MAX = 320;
  private static final int USER_MIN = 16;
  private static final int USER_MAX = 96;
  private static final int GENERATED_MIN = 32;
  private static final int GENERATED_MAX = 160;
  private static final double TOOL_SHARE = 0.7;
  private static final Duration TOOL_ESTIMATE = Duration.ofSeconds(9);
  private static final Duration HUMAN_ESTIMATE = Duration.ofSeconds(60);
  private static final long SECOND = TimeUnit.SECONDS.toNanos(1);
  private static final int LIVE_SESSIONS = 3;
  private static final int MAX_RETRIES = 10_000;
  private static final int PRINT_EVERY_TURN_UP_TO = 200;

  /** Parsed command line. */
  record Options(int sessions, int turns, long seed) {
    static final Options DEFAULTS = new Options(8, 6, 42L);
  }

  private final Options options;
  private final PrintStream out;
  private final AtomicLong clock = new AtomicLong(SECOND);
  private final int[] systemPrompt;

  private long requests;
  private long promptTokens;
  private long reusedTokens;
  private long deferred;

  private Demo(Options options, PrintStream out) {
    this.options = options;
    this.out = out;
    this.systemPrompt = tokens(new SplittableRandom(options.seed()), SYSTEM_PROMPT_TOKENS);
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    Options options;
    try {
      options = parse(args);
    } catch (IllegalArgumentException e) {
      err.println("kvtier demo: " + e.getMessage());
      usage(err);
      return Main.USAGE;
    }
    if (options == null) {
      usage(out);
      return 0;
    }
    return new Demo(options, out).run();
  }

  /** Returns null for {@code --help}. */
  static Options parse(String[] args) {
    int sessions = Options.DEFAULTS.sessions();
    int turns = Options.DEFAULTS.turns();
    long seed = Options.DEFAULTS.seed();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--help") || arg.equals("-h")) {
        return null;
      }
      String name = arg;
      String value = null;
      int eq = arg.indexOf('=');
      if (arg.startsWith("--") && eq > 0) {
        name = arg.substring(0, eq);
        value = arg.substring(eq + 1);
      }
      switch (name) {
        case "--sessions", "--turns", "--seed" -> {
          if (value == null) {
            if (i + 1 == args.length) {
              throw new IllegalArgumentException(name + " needs a value");
            }
            value = args[++i];
          }
          switch (name) {
            case "--sessions" -> sessions = (int) number(name, value, 1, 100_000);
            case "--turns" -> turns = (int) number(name, value, 1, 10_000);
            default -> seed = number(name, value, Long.MIN_VALUE, Long.MAX_VALUE);
          }
        }
        default -> throw new IllegalArgumentException("unknown option '" + arg + "'");
      }
    }
    return new Options(sessions, turns, seed);
  }

  private static long number(String name, String value, long min, long max) {
    long n;
    try {
      n = Long.parseLong(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " wants a whole number, got '" + value + "'");
    }
    if (n < min || n > max) {
      throw new IllegalArgumentException(
          name + " must be in [" + min + ", " + max + "], got " + value);
    }
    return n;
  }

  private static void usage(PrintStream to) {
    to.println(
        """
        usage: kvtier demo [--sessions N] [--turns N] [--seed S]

        Runs N agent sessions that share a system prompt and grow their context turn by turn,
        pausing for tool calls and users between turns, over one off-heap DRAM tier sized to
        force eviction. Prints each turn's reuse, then hit rate, prefill tokens saved,
        evictions and tier occupancy. Time is simulated; the same seed gives the same run.

          --sessions N   agent sessions (default 8)
          --turns N      turns per session (default 6)
          --seed S       random seed (default 42)
          --help         this text""");
  }

  private int run() {
    int turns = options.turns();
    int sessions = options.sessions();
    long capacityPages = capacityPages(turns);
    long capacityBytes = capacityPages * LAYOUT.pageBytes();
    long totalTurns = (long) sessions * turns;
    boolean everyTurn = totalTurns <= PRINT_EVERY_TURN_UP_TO;

    out.printf(
        Locale.ROOT,
        "kvtier demo: %d sessions x %d turns, seed %d%n"
            + "  layout  %d layers, %d KV heads, head dim %d, %s, %d tokens per block:"
            + " %d KiB pages%n"
            + "  tier    dram, off-heap, %,d pages (%,d KiB)%n"
            + "  prompt  %d-token system prompt shared by every session%n%n",
        sessions,
        turns,
        options.seed(),
        LAYOUT.layers(),
        LAYOUT.kvHeads(),
        LAYOUT.headDim(),
        LAYOUT.dtype(),
        LAYOUT.tokensPerBlock(),
        LAYOUT.pageBytes() / 1024,
        capacityPages,
        capacityBytes / 1024,
        SYSTEM_PROMPT_TOKENS);

    try (KvCache cache =
        KvCache.builder()
            .layout(LAYOUT)
            .tier(DramTier.offHeap(capacityBytes))
            .ticker(clock::get)
            .build()) {
      Agent[] agents = new Agent[sessions];
      PriorityQueue<Agent> ready =
          new PriorityQueue<>(
              Comparator.comparingLong((Agent a) -> a.nextTurnAt).thenComparingInt(a -> a.index));
      long stagger = Math.max(SECOND, turns * 24 * SECOND / LIVE_SESSIONS);
      for (int i = 0; i < sessions; i++) {
        Agent a = new Agent(i, new SplittableRandom(options.seed() * 1_000_003L + i + 1));
        a.context = Arrays.copyOf(systemPrompt, SYSTEM_PROMPT_TOKENS + TASK_MAX);
        a.length = SYSTEM_PROMPT_TOKENS;
        a.pending = tokens(a.random, between(a.random, TASK_MIN, TASK_MAX));
        a.nextTurnAt = clock.get() + i * stagger;
        agents[i] = a;
        ready.add(a);
      }

      long done = 0;
      long nextProgress = totalTurns / 10;
      while (!ready.isEmpty()) {
        Agent a = ready.poll();
        clock.set(Math.max(clock.get(), a.nextTurnAt));
        Session session = cache.session(a.id);
        if (a.paused) {
          session.resume();
          a.paused = false;
        }
        Turn turn = runTurn(cache, a);
        if (turn == null) {
          if (++a.retries > MAX_RETRIES) {
            out.printf(
                Locale.ROOT, "%s found no room %d times in a row: giving up%n", a.id, MAX_RETRIES);
            return 1;
          }
          a.nextTurnAt = clock.get() + SECOND;
          ready.add(a);
          continue;
        }
        a.retries = 0;
        a.turn++;
        done++;
        String next;
        if (a.turn == turns) {
          session.end();
          next = "done";
        } else if (a.random.nextDouble() < TOOL_SHARE) {
          a.pending = tokens(a.random, between(a.random, TOOL_OUTPUT_MIN, TOOL_OUTPUT_MAX));
          a.nextTurnAt = clock.get() + between(a.random, 2, 20) * SECOND;
          session.pause(PauseKind.TOOL, TOOL_ESTIMATE);
          a.paused = true;
          next = "tool call";
        } else {
          a.pending = tokens(a.random, between(a.random, USER_MIN, USER_MAX));
          a.nextTurnAt = clock.get() + between(a.random, 20, 90) * SECOND;
          session.pause(PauseKind.HUMAN, HUMAN_ESTIMATE);
          a.paused = true;
          next = "waits for user";
        }
        if (a.turn < turns) {
          ready.add(a);
        }
        if (everyTurn) {
          out.printf(
              Locale.ROOT,
              "[%7.1f s] %s turn %d/%d  prompt %,6d  reused %,6d (%5.1f%%)  computed %,5d"
                  + "  +%3d generated  -> %s%n",
              (clock.get() - SECOND) / 1e9,
              a.id,
              a.turn,
              turns,
              turn.prompt,
              turn.reused,
              100.0 * turn.reused / turn.prompt,
              turn.prompt - turn.reused,
              turn.generated,
              next);
        } else if (done >= nextProgress) {
          out.printf(
              Locale.ROOT,
              "progress %3d%%  %,d of %,d turns, token hit rate so far %.1f %%%n",
              100 * done / totalTurns,
              done,
              totalTurns,
              100.0 * reusedTokens / promptTokens);
          nextProgress += Math.max(1, totalTurns / 10);
        }
      }

      summary(cache);
      return 0;
    }
  }

  private record Turn(int prompt, int reused, int generated) {}

  /** One engine step; null when the tier had no room and the turn must be retried later. */
  private Turn runTurn(KvCache cache, Agent a) {
    int[] prompt = Arrays.copyOf(a.context, a.length + a.pending.length);
    System.arraycopy(a.pending, 0, prompt, a.length, a.pending.length);
    int[] generated = tokens(a.random, between(a.random, GENERATED_MIN, GENERATED_MAX));
    try (Lease lease = cache.acquire(Request.of(NAMESPACE, prompt).session(a.id))) {
      int reused = lease.cachedTokens();
      lease.extend(); // pages for the uncached rest of the prompt: the engine prefills them
      lease.extend(generated); // decode: pages for the generated tokens
      lease.commit(); // every full block is now shareable
      requests++;
      promptTokens += prompt.length;
      reusedTokens += reused;
      a.context = Arrays.copyOf(prompt, prompt.length + generated.length);
      System.arraycopy(generated, 0, a.context, prompt.length, generated.length);
      a.length = a.context.length;
      return new Turn(prompt.length, reused, generated.length);
    } catch (OutOfPagesException e) {
      deferred++;
      return null;
    }
  }

  private void summary(KvCache cache) {
    CacheStats stats = cache.stats();
    Warmth warmth = cache.probe(NAMESPACE, systemPrompt);
    out.printf(
        Locale.ROOT,
        "%nsummary%n"
            + "  requests              %,d%n"
            + "  token hit rate        %.1f %%%n"
            + "  prefill tokens saved  %,d of %,d prompt tokens%n"
            + "  evictions             %,d blocks%n"
            + "  cached blocks         %,d%n",
        requests,
        100.0 * stats.tokenHitRate(),
        reusedTokens,
        promptTokens,
        stats.evictedBlocks(),
        stats.cachedBlocks());
    for (TierStats tier : stats.tiers()) {
      out.printf(
          Locale.ROOT,
          "  tier %-6s %-5s     %,d of %,d pages used (%.0f%%), %,d free runs, largest %,d pages,"
              + " %,d evictions%n",
          tier.name(),
          tier.kind(),
          tier.usedPages(),
          tier.capacityPages(),
          100.0 * tier.usedPages() / tier.capacityPages(),
          tier.freeRuns(),
          tier.largestFreeRun(),
          tier.evictions());
    }
    out.printf(
        Locale.ROOT,
        "  turns deferred        %,d (no room: every evictable page was pinned)%n"
            + "  router probe          system prompt: %,d of %,d tokens cached, blocks per tier %s%n",
        deferred,
        warmth.matchedTokens(),
        SYSTEM_PROMPT_TOKENS,
        Arrays.toString(warmth.blocksPerTier()));
  }

  /**
   * Pages for about {@value #LIVE_SESSIONS} sessions' contexts, and at least two of the longest
   * possible context, so a turn always fits once pins expire.
   */
  static long capacityPages(int turns) {
    long average =
        (TASK_MIN + TASK_MAX) / 2
            + (long) turns
                * (Math.round(
                        TOOL_SHARE * (TOOL_OUTPUT_MIN + TOOL_OUTPUT_MAX) / 2
                            + (1 - TOOL_SHARE) * (USER_MIN + USER_MAX) / 2)
                    + (GENERATED_MIN + GENERATED_MAX) / 2);
    long longest =
        SYSTEM_PROMPT_TOKENS
            + TASK_MAX
            + (long) turns * (Math.max(TOOL_OUTPUT_MAX, USER_MAX) + GENERATED_MAX);
    long tokensPerBlock = LAYOUT.tokensPerBlock();
    long systemPages = SYSTEM_PROMPT_TOKENS / tokensPerBlock;
    long averagePages = (average + tokensPerBlock - 1) / tokensPerBlock;
    long longestPages = (longest + tokensPerBlock - 1) / tokensPerBlock;
    return Math.max(2 * longestPages + 8, systemPages + LIVE_SESSIONS * averagePages);
  }

  private static int[] tokens(SplittableRandom random, int n) {
    int[] tokens = new int[n];
    for (int i = 0; i < n; i++) {
      tokens[i] = random.nextInt(VOCABULARY);
    }
    return tokens;
  }

  private static int between(SplittableRandom random, int min, int max) {
    return random.nextInt(min, max + 1);
  }

  /** One simulated agent session. */
  private static final class Agent {
    final int index;
    final String id;
    final SplittableRandom random;
    int[] context;
    int length;
    int[] pending;
    int turn;
    boolean paused;
    int retries;
    long nextTurnAt;

    Agent(int index, SplittableRandom random) {
      this.index = index;
      this.id = String.format(Locale.ROOT, "s%02d", index);
      this.random = random;
    }
  }
}
