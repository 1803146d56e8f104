package io.busprobe.maps;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Issue 15: what was derived from one daemon's ring is derived again for the next daemon's. */
class SettingsTest {
    private static final long RING_4K = 4096;
    private static final long RING_8M = 8 << 20;

    @Test
    void aDerivedWatermarkFollowsTheRing() {
        Settings pinnedBy4K = Settings.defaults(RING_4K);
        assertThat(pinnedBy4K.watermark()).isEqualTo(4096);
        assertThat(pinnedBy4K.forRing(RING_8M)).isEqualTo(Settings.defaults(RING_8M));
        assertThat(Settings.defaults(RING_8M).watermark()).isEqualTo(1 << 20);
    }

    @Test
    void theOperatorsWatermarkStaysWhereTheRingCanReachIt() {
        Settings chosen = Settings.defaults(RING_8M).withWatermark(64 << 10);
        assertThat(chosen.forRing(RING_8M)).isEqualTo(chosen);
        assertThat(chosen.forRing(16 << 20)).isEqualTo(chosen);
        assertThat(chosen.forRing(RING_4K)).isEqualTo(Settings.defaults(RING_4K));
    }

    @Test
    void differencesNameEverySettingThatIsNotTheDefault() {
        assertThat(Settings.defaults(RING_8M).differences(RING_8M)).isEmpty();
        assertThat(new Settings(false, Settings.Wakeup.ALWAYS, 1 << 20).withWatermark(64 << 10).differences(RING_8M))
                .containsExactly("emit off", "wakeup always", "watermark 64K");
        assertThat(Settings.defaults(RING_4K).differences(RING_8M)).as("a derived watermark of another ring")
                .containsExactly("watermark 4K");
    }

    @Test
    void aKindDiffersFromWhatAFreshDaemonWrites() {
        assertThat(NonDefaults.kind(SampleSetting.DEFAULT, true)).isNull();
        assertThat(NonDefaults.kind(SampleSetting.DEFAULT.withEnabled(false), false)).as("a probe that is missing").isNull();
        assertThat(NonDefaults.kind(SampleSetting.DEFAULT.withEvery(10), true)).isEqualTo("on 1/10");
        assertThat(NonDefaults.kind(SampleSetting.DEFAULT.withNoAuto(true), true)).isEqualTo("on no-auto");
    }
}
